//! `pix-gateway`: the one binary of the project that does IO.
fn main() {
    println!("pix-gateway");
}
