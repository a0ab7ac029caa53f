//! The RFC 4303 3.4.3 anti-replay window (32-bit sequence numbers, no ESN: IKEv1
//! does not negotiate ESN).
//!
//! The window is a ring of bits indexed by `seq % size`; `size` is a multiple of 64
//! fixed when the SA is installed, so no packet allocates. Checking and updating are
//! separate: [`ReplayWindow::check`] runs before the ICV (cheap rejection) and
//! [`ReplayWindow::update`] only after the ICV verified, so forged packets cannot
//! move the window.

/// Default window size in packets.
pub const DEFAULT_WINDOW: u32 = 64;
/// Largest window size accepted.
pub const MAX_WINDOW: u32 = 65536;

/// Why a sequence number is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// Already received.
    Replayed,
    /// Left of the window (or zero, which is never sent).
    OutsideWindow,
}

/// An anti-replay window.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    /// Window size in packets (a multiple of 64, or 0 for disabled).
    size: u32,
    /// Highest authenticated sequence number seen (0: none yet).
    highest: u32,
    /// Bit `seq % size` set when `seq` was received.
    bits: Vec<u64>,
}

impl ReplayWindow {
    /// A window of at least `size` packets (rounded up to a multiple of 64, capped at
    /// [`MAX_WINDOW`]); `0` disables replay checking (RFC 4303 allows the receiver to).
    pub fn new(size: u32) -> Self {
        let size = size.min(MAX_WINDOW).div_ceil(64).saturating_mul(64);
        let words = (size / 64) as usize;
        ReplayWindow {
            size,
            highest: 0,
            bits: vec![0; words],
        }
    }

    /// Window size in packets (after rounding).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Highest sequence number accepted so far.
    pub fn highest(&self) -> u32 {
        self.highest
    }

    fn bit(&self, seq: u32) -> (usize, u64) {
        let pos = seq.checked_rem(self.size).unwrap_or(0);
        ((pos / 64) as usize, 1u64 << (pos % 64))
    }

    /// Whether `seq` would be accepted. Does not change the window.
    pub fn check(&self, seq: u32) -> Result<(), ReplayVerdict> {
        if seq == 0 {
            return Err(ReplayVerdict::OutsideWindow);
        }
        if self.size == 0 || seq > self.highest {
            return Ok(());
        }
        let behind = self.highest.wrapping_sub(seq);
        if behind >= self.size {
            return Err(ReplayVerdict::OutsideWindow);
        }
        let (word, mask) = self.bit(seq);
        match self.bits.get(word) {
            Some(w) if w & mask != 0 => Err(ReplayVerdict::Replayed),
            _ => Ok(()),
        }
    }

    /// Records `seq` as received. Call only after the packet authenticated and
    /// [`check`](Self::check) accepted it.
    pub fn update(&mut self, seq: u32) {
        if self.size == 0 || seq == 0 {
            if seq > self.highest {
                self.highest = seq;
            }
            return;
        }
        if seq > self.highest {
            let advance = seq.wrapping_sub(self.highest);
            if advance >= self.size {
                self.bits.iter_mut().for_each(|w| *w = 0);
            } else {
                // Clear the slots of highest+1 ..= seq, a word at a time.
                self.clear_range(self.highest.wrapping_add(1), advance);
            }
            self.highest = seq;
        }
        let (word, mask) = self.bit(seq);
        if let Some(w) = self.bits.get_mut(word) {
            *w |= mask;
        }
    }

    /// Clears `count` (< size) consecutive slots starting at the slot of `from`.
    fn clear_range(&mut self, from: u32, count: u32) {
        let mut pos = from.checked_rem(self.size).unwrap_or(0);
        let mut left = count;
        while left > 0 {
            let bit = pos % 64;
            let n = 64u32.saturating_sub(bit).min(left);
            let mask = if n == 64 {
                u64::MAX
            } else {
                (1u64 << n).wrapping_sub(1) << bit
            };
            if let Some(w) = self.bits.get_mut((pos / 64) as usize) {
                *w &= !mask;
            }
            left = left.saturating_sub(n);
            pos = pos.saturating_add(n).checked_rem(self.size).unwrap_or(0);
        }
    }
}
