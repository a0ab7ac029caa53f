//! The shared AAA tier of issue 18, started for real by a test: PostgreSQL 15
//! (Debian's `postgresql`) on a unix socket in the test's directory, and
//! FreeRADIUS 3.2 (Debian's `freeradius` + `freeradius-postgresql`) with `sql`
//! (radacct session accounting) and `sqlippool` (the address pool shared by every
//! gateway) on that one database, configured with exactly the operator files of
//! `examples/aaa-tier/` (see its README).
//!
//! ```no_run
//! use testkit::aaa_tier::{AaaTier, AaaTierOpts};
//! let dir = std::env::temp_dir().join("aaa-doc");
//! std::fs::create_dir_all(&dir).unwrap();
//! let mut opts = AaaTierOpts::new(&dir);
//! opts.clients.push(("127.0.0.0/8".into(), "secretkey".into()));
//! opts.users.push(("alice".into(), "alice123".into()));
//! let tier = AaaTier::start(opts);
//! let r = tier.radclient("auth", "secretkey", &["User-Name = alice", "User-Password = alice123",
//!     "NAS-IP-Address = 10.0.0.1"]);
//! assert_eq!(r.code, "Access-Accept");
//! assert_eq!(tier.leases().iter().filter(|l| l.live).count(), 1);
//! ```
//!
//! PostgreSQL listens on no TCP port (`listen_addresses = ''`), only on the
//! socket `<dir>/pg/.s.PGSQL.5432`, which FreeRADIUS reaches from any network
//! namespace. Every process runs under `timeout -k 3 <lifetime>` and is stopped
//! when the [`AaaTier`] is dropped, also when a test fails; the caller owns (and
//! removes) the directory.

use crate::wait_for;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::freeradius::{self, edit};

/// Debian's PostgreSQL 15 binaries.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// FreeRADIUS's PostgreSQL schema for radacct, radcheck and friends.
pub const MAIN_SCHEMA: &str = "/etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql";
/// FreeRADIUS's PostgreSQL schema for radippool.
pub const IPPOOL_SCHEMA: &str = "/etc/freeradius/3.0/mods-config/sql/ippool/postgresql/schema.sql";
/// The operator files this harness applies (`examples/aaa-tier`).
pub const OPERATOR_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/aaa-tier");

/// The database FreeRADIUS uses.
const DB: &str = "radius";
/// Field and record separators of `psql -At` output (ASCII US and RS: no value
/// in these tables carries them).
const FS: char = '\u{1f}';
const RS: char = '\u{1e}';

/// What the tier is started with. [`AaaTierOpts::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct AaaTierOpts {
    /// The working directory (created by the caller; must be reachable by the
    /// `postgres` user: every parent directory searchable by others).
    pub dir: PathBuf,
    /// The network namespace FreeRADIUS runs in (`ip netns exec NS`), or `None`
    /// for the caller's. PostgreSQL runs in the caller's (it has no TCP port).
    pub netns: Option<String>,
    /// The address FreeRADIUS listens on.
    pub listen: Ipv4Addr,
    /// The authentication port; accounting is `port + 1`.
    pub port: u16,
    /// RADIUS clients (the gateways): (`CIDR`, secret). They replace the stock
    /// clients.conf.
    pub clients: Vec<(String, String)>,
    /// Users (name, cleartext password), in radcheck with `Pool-Name := pool`.
    pub users: Vec<(String, String)>,
    /// The pool name (radippool.pool_name, the users' control Pool-Name).
    pub pool_name: String,
    /// The pool's first address.
    pub pool_first: Ipv4Addr,
    /// The pool's last address (inclusive).
    pub pool_last: Ipv4Addr,
    /// sqlippool's lease_duration (seconds).
    pub lease_seconds: u32,
    /// The `timeout` of every process (seconds).
    pub lifetime_secs: u32,
    /// FreeRADIUS's debug output (`-xx`: every request in the log, which tests read);
    /// `false` for measurements (a production server does not log every packet).
    pub debug: bool,
}

impl AaaTierOpts {
    /// Defaults: FreeRADIUS in the caller's namespace on 127.0.0.1:1812/1813,
    /// no clients, no users, pool `vpn` = 10.89.130.1..10.89.130.20, leases of
    /// 3600 s, processes bounded to 300 s.
    pub fn new(dir: &Path) -> AaaTierOpts {
        AaaTierOpts {
            dir: dir.to_path_buf(),
            netns: None,
            listen: Ipv4Addr::LOCALHOST,
            port: 1812,
            clients: Vec::new(),
            users: Vec::new(),
            pool_name: "vpn".into(),
            pool_first: Ipv4Addr::new(10, 89, 130, 1),
            pool_last: Ipv4Addr::new(10, 89, 130, 20),
            lease_seconds: 3600,
            lifetime_secs: 300,
            debug: true,
        }
    }
}

/// A radacct session (open or stopped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// UserName.
    pub user: String,
    /// NASIPAddress (the gateway's NAS-IP-Address).
    pub nas_ip: Ipv4Addr,
    /// NAS-Identifier (column `nasidentifier` of schema-extras.sql), "" if none.
    pub nas_identifier: String,
    /// FramedIPAddress (the client's inside address).
    pub framed_ip: Option<Ipv4Addr>,
    /// CallingStationId (the client's public address).
    pub calling_station_id: String,
    /// AcctSessionId.
    pub acct_session_id: String,
}

/// A closed radacct session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoppedSession {
    /// Who, where, which address.
    pub session: Session,
    /// AcctSessionTime (s).
    pub session_time: u64,
    /// AcctInputOctets (gigawords included).
    pub input_octets: u64,
    /// AcctOutputOctets (gigawords included).
    pub output_octets: u64,
    /// Acct-Input-Packets of the Stop (or last Interim), if the gateway sent one.
    pub input_packets: Option<u64>,
    /// Acct-Output-Packets of the Stop (or last Interim), if the gateway sent one.
    pub output_packets: Option<u64>,
    /// AcctTerminateCause (`User-Request`, `Idle-Timeout`, `NAS-Reboot`, ...).
    pub terminate_cause: String,
}

/// A radippool row: one address of the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The address.
    pub address: Ipv4Addr,
    /// The user who holds (or last held) it; "" if never allocated.
    pub user: String,
    /// The gateway (NAS-IP-Address) that holds (or last held) it; "" if never.
    pub nas_ip: String,
    /// The client's public address at allocation.
    pub calling_station_id: String,
    /// The lease is live (expiry_time in the future); otherwise it is free.
    pub live: bool,
}

/// A RADIUS reply as radclient printed it.
#[derive(Clone, Debug)]
pub struct RadReply {
    /// `Access-Accept`, `Access-Reject`, `Accounting-Response`, or `none` (no reply).
    pub code: String,
    /// The reply's attributes (name, value as radclient prints it, quotes removed).
    pub attrs: Vec<(String, String)>,
    /// radclient's whole output.
    pub raw: String,
}

impl RadReply {
    /// The first value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// Framed-IP-Address, parsed.
    pub fn framed_ip(&self) -> Option<Ipv4Addr> {
        self.attr("Framed-IP-Address").and_then(|v| v.parse().ok())
    }
}

/// A process of the tier: `timeout` and what it runs.
struct Proc {
    child: Child,
}

impl Proc {
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    /// SIGTERM to `timeout` (which passes it on), SIGKILL to both after `grace`.
    fn stop(&mut self, grace: Duration) {
        if !self.alive() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + grace;
        while Instant::now() < end {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // the child of `timeout` first, by its parent's pid: it would survive as an orphan
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The running tier. Dropping it stops FreeRADIUS and PostgreSQL.
pub struct AaaTier {
    opts: AaaTierOpts,
    raddb: PathBuf,
    pgdata: PathBuf,
    sock: PathBuf,
    radius_log: PathBuf,
    pg_log: PathBuf,
    postgres: Option<Proc>,
    radius: Option<Proc>,
    started_in: Duration,
    phases: Vec<(&'static str, Duration)>,
}

/// Fails the test loudly when a tool is missing.
fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install the Debian package {package} (scripts/deps.sh)"
    );
}

/// Runs a command bounded by `timeout`, returns its output.
fn run_bounded(secs: u32, cmd: &[&str]) -> Output {
    let mut c = Command::new("timeout");
    c.args(["-k", "2", &secs.to_string()]).args(cmd);
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a command as the `postgres` user (setpriv execs: no extra process).
fn as_postgres(secs: u32, cmd: &[&str]) -> Output {
    let mut v = vec![
        "setpriv",
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
    ];
    v.extend_from_slice(cmd);
    run_bounded(secs, &v)
}

/// A SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl AaaTier {
    /// Starts PostgreSQL (initdb, schemas, users, pool) and FreeRADIUS (ready to
    /// process requests). Fails the test, naming the Debian package, when a tool
    /// is missing.
    pub fn start(opts: AaaTierOpts) -> AaaTier {
        let t0 = Instant::now();
        require(&format!("{PG_BIN}/initdb"), "postgresql");
        require(&format!("{PG_BIN}/postgres"), "postgresql");
        require("/usr/bin/psql", "postgresql-client");
        require("/usr/sbin/freeradius", "freeradius");
        require(
            "/usr/lib/freeradius/rlm_sql_postgresql.so",
            "freeradius-postgresql",
        );
        require("/usr/lib/freeradius/rlm_sqlippool.so", "freeradius");
        require(MAIN_SCHEMA, "freeradius-postgresql");
        require(IPPOOL_SCHEMA, "freeradius-postgresql");
        require("/usr/bin/radclient", "freeradius-utils");
        let first = u32::from(opts.pool_first);
        let last = u32::from(opts.pool_last);
        assert!(
            first <= last && last - first < 65536,
            "pool {}..{} is empty or larger than 65536 addresses",
            opts.pool_first,
            opts.pool_last
        );

        let pg = opts.dir.join("pg");
        std::fs::create_dir_all(&pg).unwrap();
        let st = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&pg)
            .status()
            .expect("chown");
        assert!(
            st.success(),
            "chown postgres {}: is the user postgres there? (postgresql)",
            pg.display()
        );
        let sock = pg.clone();
        assert!(
            sock.join(".s.PGSQL.5432").as_os_str().len() < 100,
            "{} is too long a path for a unix socket",
            sock.display()
        );
        let pgdata = pg.join("data");
        let out = as_postgres(
            60,
            &[
                &format!("{PG_BIN}/initdb"),
                "-D",
                pgdata.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb {} failed (can the postgres user reach {}?):\n{}{}",
            pgdata.display(),
            opts.dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let pg_log = opts.dir.join("postgres.log");
        let log = std::fs::File::create(&pg_log).unwrap();
        let child = Command::new("timeout")
            .args(["-k", "3", &opts.lifetime_secs.to_string()])
            .args([
                "setpriv",
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
            ])
            .arg(format!("{PG_BIN}/postgres"))
            .arg("-D")
            .arg(&pgdata)
            .arg("-k")
            .arg(&sock)
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=100",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres: {e}"));
        let raddb = opts.dir.join("raddb");
        let mut tier = AaaTier {
            radius_log: opts.dir.join("radiusd.log"),
            pg_log,
            opts,
            raddb,
            pgdata,
            sock,
            postgres: Some(Proc { child }),
            radius: None,
            started_in: Duration::ZERO,
            phases: vec![("initdb", t0.elapsed())],
        };
        let ready = wait_for(Duration::from_secs(20), || {
            tier.psql_db("postgres", "SELECT 1").is_ok()
        });
        assert!(
            ready,
            "PostgreSQL did not come up:\n{}",
            std::fs::read_to_string(&tier.pg_log).unwrap_or_default()
        );
        tier.phases.push(("postgres up", t0.elapsed()));
        tier.load_schema(first, last);
        tier.phases.push(("schemas, users, pool", t0.elapsed()));
        tier.configure_radius();
        tier.start_radius();
        tier.started_in = t0.elapsed();
        tier.phases.push(("FreeRADIUS ready", tier.started_in));
        tier
    }

    /// How long [`AaaTier::start`] took (initdb, schemas, FreeRADIUS ready).
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// When each phase of [`AaaTier::start`] ended, from its beginning.
    pub fn start_phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// The options the tier runs with.
    pub fn opts(&self) -> &AaaTierOpts {
        &self.opts
    }

    /// The directory of PostgreSQL's unix socket (`psql -h <this> -U postgres radius`).
    pub fn socket_dir(&self) -> &Path {
        &self.sock
    }

    /// The private FreeRADIUS configuration.
    pub fn raddb(&self) -> &Path {
        &self.raddb
    }

    fn load_schema(&self, first: u32, last: u32) {
        self.psql_db("postgres", &format!("CREATE DATABASE {DB}"))
            .unwrap_or_else(|e| panic!("creating database {DB}: {e}"));
        for f in [
            MAIN_SCHEMA.to_string(),
            IPPOOL_SCHEMA.to_string(),
            format!("{OPERATOR_DIR}/schema-extras.sql"),
        ] {
            let out = self.psql(DB, &["-f", &f]);
            assert!(
                out.status.success(),
                "loading {f} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let pool = lit(&self.opts.pool_name);
        let mut q = format!(
            "INSERT INTO radippool (pool_name, framedipaddress, expiry_time) \
             SELECT {pool}, {}::inet + g, now() - interval '1 hour' \
             FROM generate_series(0, {}) AS g;",
            lit(&self.opts.pool_first.to_string()),
            last - first
        );
        for (user, pass) in &self.opts.users {
            q.push_str(&format!(
                "INSERT INTO radcheck (username, attribute, op, value) VALUES \
                 ({u}, 'Cleartext-Password', ':=', {p}), ({u}, 'Pool-Name', ':=', {pool});",
                u = lit(user),
                p = lit(pass),
            ));
        }
        self.sql(&q);
    }

    /// The Debian configuration, moved to our directory, address and ports, with
    /// the clients of the options and the operator files of examples/aaa-tier.
    fn configure_radius(&self) {
        let raddb = freeradius::copy_config(&self.opts.dir, "rlog", "rrun");
        assert_eq!(raddb, self.raddb);
        freeradius::listen_on(&raddb, &self.opts.listen.to_string(), self.opts.port);
        let mut clients = String::from("# written by testkit::aaa_tier\n");
        for (i, (cidr, secret)) in self.opts.clients.iter().enumerate() {
            clients.push_str(&format!(
                "client gw{i} {{\n\tipaddr = {cidr}\n\tsecret = {secret}\n}}\n"
            ));
        }
        std::fs::write(raddb.join("clients.conf"), clients).unwrap();
        let src = Path::new(OPERATOR_DIR).join("raddb");
        let st = Command::new("cp")
            .args(["-r", "--remove-destination"])
            .arg(format!("{}/.", src.display()))
            .arg(&raddb)
            .status()
            .expect("cp");
        assert!(st.success(), "copying {} failed", src.display());
        edit(&raddb.join("sites-enabled/default"), |s| {
            let s = insert_after_in_section(s, "post-auth {", "-sql", "aaa_tier_post_auth");
            insert_after_in_section(&s, "accounting {", "-sql", "aaa_tier_accounting")
        });
    }

    /// Starts FreeRADIUS (again) and waits until it is ready.
    pub fn start_radius(&mut self) {
        assert!(self.radius.is_none(), "FreeRADIUS is already running");
        let before = self.radius_log_text().matches(freeradius::READY).count();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.radius_log)
            .unwrap();
        writeln!(log, "----- testkit::aaa_tier: FreeRADIUS starts -----").unwrap();
        let mut c = match &self.opts.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "timeout"]);
                c
            }
            None => Command::new("timeout"),
        };
        // -f -xx: foreground and debug output, but threaded (-X would serialise
        // every request, hiding the races between gateways this tier must survive).
        c.args(["-k", "3", &self.opts.lifetime_secs.to_string()])
            .args(["freeradius", "-f"])
            .args(if self.opts.debug {
                &["-xx"][..]
            } else {
                &[][..]
            })
            .args(["-l", "stdout", "-d"])
            .arg(&self.raddb)
            .env("AAA_DB_HOST", &self.sock)
            .env("AAA_DB_USER", "postgres")
            .env("AAA_LEASE_SECONDS", self.opts.lease_seconds.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start freeradius: {e}"));
        self.radius = Some(Proc { child });
        let ok = wait_for(Duration::from_secs(30), || {
            self.radius_log_text().matches(freeradius::READY).count() > before
                || !self.radius.as_mut().unwrap().alive()
        });
        let up = self.radius.as_mut().unwrap().alive();
        assert!(
            ok && up,
            "FreeRADIUS did not start:\n{}",
            self.radius_log_text()
        );
    }

    /// Stops FreeRADIUS (the database stays): "the gateway loses the RADIUS server".
    pub fn stop_radius(&mut self) {
        if let Some(mut p) = self.radius.take() {
            p.stop(Duration::from_secs(3));
        }
    }

    /// FreeRADIUS is running.
    pub fn radius_running(&mut self) -> bool {
        self.radius.as_mut().is_some_and(Proc::alive)
    }

    /// FreeRADIUS's output so far (every start, appended).
    pub fn radius_log_text(&self) -> String {
        std::fs::read_to_string(&self.radius_log).unwrap_or_default()
    }

    /// PostgreSQL's log.
    pub fn postgres_log_text(&self) -> String {
        std::fs::read_to_string(&self.pg_log).unwrap_or_default()
    }

    /// `psql` as `postgres` on database `db` through the tier's socket, quiet, stopping
    /// at the first error, with `args` after; bounded to 30 s.
    fn psql(&self, db: &str, args: &[&str]) -> Output {
        let mut cmd = vec![
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            self.sock.to_str().unwrap(),
            "-U",
            "postgres",
            "-d",
            db,
        ];
        cmd.extend_from_slice(args);
        run_bounded(30, &cmd)
    }

    fn psql_db(&self, db: &str, query: &str) -> Result<String, String> {
        let fs = FS.to_string();
        let rs = RS.to_string();
        let out = self.psql(db, &["-At", "-F", &fs, "-R", &rs, "-c", query]);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "psql {query:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Runs `query` on the database; its rows, fields split. Fails the test on a
    /// SQL error (naming the query).
    pub fn sql(&self, query: &str) -> Vec<Vec<String>> {
        let out = self.psql_db(DB, query).unwrap_or_else(|e| panic!("{e}"));
        out.trim_end_matches('\n')
            .split(RS)
            .filter(|r| !r.is_empty())
            .map(|r| r.split(FS).map(str::to_string).collect())
            .collect()
    }

    /// The open sessions (radacct rows without acctstoptime), oldest first.
    pub fn open_sessions(&self) -> Vec<Session> {
        self.sql(&format!(
            "SELECT {SESSION_COLS} FROM radacct WHERE acctstoptime IS NULL ORDER BY radacctid"
        ))
        .iter()
        .map(|r| session(r))
        .collect()
    }

    /// The closed sessions, oldest first.
    pub fn stopped_sessions(&self) -> Vec<StoppedSession> {
        self.sql(&format!(
            "SELECT {SESSION_COLS}, COALESCE(acctsessiontime, 0), COALESCE(acctinputoctets, 0), \
             COALESCE(acctoutputoctets, 0), acctinputpackets, acctoutputpackets, \
             COALESCE(acctterminatecause, '') \
             FROM radacct WHERE acctstoptime IS NOT NULL ORDER BY radacctid"
        ))
        .iter()
        .map(|r| {
            let n = |i: usize| -> u64 {
                r[i].parse()
                    .unwrap_or_else(|_| panic!("radacct column {i}: {:?} is no count", r[i]))
            };
            let opt = |i: usize| -> Option<u64> { r[i].parse().ok() };
            StoppedSession {
                session: session(r),
                session_time: n(6),
                input_octets: n(7),
                output_octets: n(8),
                input_packets: opt(9),
                output_packets: opt(10),
                terminate_cause: r[11].clone(),
            }
        })
        .collect()
    }

    /// Every address of every pool, in address order.
    pub fn leases(&self) -> Vec<Lease> {
        self.sql(
            "SELECT host(framedipaddress), COALESCE(username, ''), nasipaddress, \
             callingstationid, expiry_time > now()::timestamp(0) \
             FROM radippool ORDER BY framedipaddress",
        )
        .iter()
        .map(|r| Lease {
            address: r[0]
                .parse()
                .unwrap_or_else(|_| panic!("radippool address {:?}", r[0])),
            user: r[1].clone(),
            nas_ip: r[2].clone(),
            calling_station_id: r[3].clone(),
            live: r[4] == "t",
        })
        .collect()
    }

    /// The live leases (who holds which address now).
    pub fn live_leases(&self) -> Vec<Lease> {
        self.leases().into_iter().filter(|l| l.live).collect()
    }

    /// Sends one request with radclient, as a NAS would, from the tier's namespace
    /// (source 127.0.0.1 when the tier listens on loopback). `kind` is `auth` or
    /// `acct`; `attrs` are radclient's `Name = value` lines. One try, 3 s timeout.
    pub fn radclient(&self, kind: &str, secret: &str, attrs: &[&str]) -> RadReply {
        let raw = self.radclient_raw(kind, secret, &[attrs.to_vec()]);
        parse_radclient(&raw)
    }

    /// Sends `requests` at once (radclient `-p`: all in flight together) and
    /// returns the replies in the order they came (requests without a reply have
    /// none).
    pub fn radclient_many(
        &self,
        kind: &str,
        secret: &str,
        requests: &[Vec<&str>],
    ) -> Vec<RadReply> {
        let raw = self.radclient_raw(kind, secret, requests);
        parse_radclient_all(&raw)
    }

    fn radclient_raw(&self, kind: &str, secret: &str, requests: &[Vec<&str>]) -> String {
        let port = if kind == "acct" {
            self.opts.port + 1
        } else {
            self.opts.port
        };
        let mut v: Vec<String> = Vec::new();
        if let Some(ns) = &self.opts.netns {
            v.extend(["ip", "netns", "exec", ns].map(String::from));
        }
        v.extend(
            [
                "timeout",
                "-k",
                "2",
                "15",
                "radclient",
                "-x",
                "-r",
                "1",
                "-t",
                "3",
            ]
            .map(String::from),
        );
        v.push("-p".into());
        v.push(requests.len().max(1).to_string());
        v.push(format!("{}:{port}", self.opts.listen));
        v.push(kind.into());
        v.push(secret.into());
        let mut child = Command::new(&v[0])
            .args(&v[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run radclient (freeradius-utils): {e}"));
        let input: Vec<String> = requests.iter().map(|r| r.join("\n")).collect();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{}\n", input.join("\n\n")).as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

/// The columns of [`Session`], in order.
const SESSION_COLS: &str = "COALESCE(username, ''), host(nasipaddress), \
     COALESCE(nasidentifier, ''), COALESCE(host(framedipaddress), ''), \
     COALESCE(callingstationid, ''), acctsessionid";

fn session(r: &[String]) -> Session {
    assert!(r.len() >= 6, "radacct row {r:?} has too few columns");
    Session {
        user: r[0].clone(),
        nas_ip: r[1]
            .parse()
            .unwrap_or_else(|_| panic!("radacct nasipaddress {:?}", r[1])),
        nas_identifier: r[2].clone(),
        framed_ip: r[3].parse().ok(),
        calling_station_id: r[4].clone(),
        acct_session_id: r[5].clone(),
    }
}

/// The first reply radclient printed (`Received <Code> Id ...` and its attribute
/// lines); code `none` when there was none.
pub fn parse_radclient(raw: &str) -> RadReply {
    parse_radclient_all(raw)
        .into_iter()
        .next()
        .unwrap_or_else(|| RadReply {
            code: "none".into(),
            attrs: Vec::new(),
            raw: raw.to_string(),
        })
}

/// Every reply radclient printed, in the order received (each with the whole
/// output as `raw`).
pub fn parse_radclient_all(raw: &str) -> Vec<RadReply> {
    let mut replies: Vec<RadReply> = Vec::new();
    let mut inside = false;
    for l in raw.lines() {
        if let Some(rest) = l.strip_prefix("Received ") {
            replies.push(RadReply {
                code: rest.split_whitespace().next().unwrap_or("none").to_string(),
                attrs: Vec::new(),
                raw: raw.to_string(),
            });
            inside = true;
        } else if inside && (l.starts_with('\t') || l.starts_with("  ")) {
            if let (Some((n, v)), Some(r)) = (l.trim().split_once(" = "), replies.last_mut()) {
                r.attrs
                    .push((n.to_string(), v.trim_matches('"').to_string()));
            }
        } else {
            inside = false;
        }
    }
    replies
}

/// Inserts the line `add` after the first line equal to `after` (trimmed) that
/// follows the line `section` (trimmed).
fn insert_after_in_section(s: &str, section: &str, after: &str, add: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == section)
        .unwrap_or_else(|| panic!("sites-enabled/default has no `{section}`"));
    let at = lines[start..]
        .iter()
        .position(|l| l.trim() == after)
        .map(|i| start + i)
        .unwrap_or_else(|| panic!("sites-enabled/default: no `{after}` in `{section}`"));
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out.insert(at + 1, format!("\t{add}"));
    out.join("\n")
}

impl Drop for AaaTier {
    fn drop(&mut self) {
        self.stop_radius();
        if let Some(mut p) = self.postgres.take() {
            if p.alive() {
                let _ = as_postgres(
                    10,
                    &[
                        &format!("{PG_BIN}/pg_ctl"),
                        "-D",
                        self.pgdata.to_str().unwrap_or_default(),
                        "-m",
                        "immediate",
                        "-w",
                        "-t",
                        "5",
                        "stop",
                    ],
                );
            }
            p.stop(Duration::from_secs(3));
        }
    }
}
