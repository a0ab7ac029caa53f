//! Cisco IKE fragmentation (payload 132): fragments from a peer that announced the
//! vendor ID are reassembled, bounded in count and size. We never fragment our own
//! messages: with pre-shared keys every message fits a datagram.

use super::sa::IkeSa;
use super::Endpoint;
use crate::event::DebugEvent;
use isakmp_wire::{Message, Payload};

impl Endpoint {
    /// Stores one fragment; returns the whole message once every fragment is in.
    pub(crate) fn fragment(&mut self, sa: &mut IkeSa, m: &Message<'_>) -> Option<Vec<u8>> {
        if !sa.peer.frag {
            self.refuse(crate::counters::Refusal::FragmentUnannounced);
            self.debug(DebugEvent::Dropped(
                "fragment from a peer without the fragmentation VID",
            ));
            return None;
        }
        let frag = m.payloads()?.find_map(|p| match p.ok()?.body {
            Payload::Fragment(f) => Some(f),
            _ => None,
        })?;
        self.debug(DebugEvent::Fragment {
            id: frag.fragment_id,
            number: frag.number,
            last: frag.is_last(),
        });
        let l = self.config.limits;
        if sa
            .fragments
            .first()
            .is_some_and(|f| f.0 != frag.fragment_id)
        {
            // A new message: forget the old, unfinished one.
            sa.fragments.clear();
        }
        if frag.number == 0 || sa.fragments.iter().any(|f| f.1 == frag.number) {
            return None;
        }
        let size: usize = sa.fragments.iter().map(|f| f.3.len()).sum();
        if sa.fragments.len() >= l.max_fragments
            || size.saturating_add(frag.data.len()) > l.max_reassembled
        {
            self.refuse(crate::counters::Refusal::FragmentLimit);
            self.debug(DebugEvent::Dropped("fragment limit reached"));
            sa.fragments.clear();
            return None;
        }
        sa.fragments.push((
            frag.fragment_id,
            frag.number,
            frag.is_last(),
            frag.data.to_vec(),
        ));
        let last = sa.fragments.iter().find(|f| f.2).map(|f| f.1)?;
        if sa.fragments.len() != usize::from(last) {
            return None;
        }
        sa.fragments.sort_by_key(|f| f.1);
        let complete = sa
            .fragments
            .iter()
            .enumerate()
            .all(|(i, f)| usize::from(f.1) == i.saturating_add(1));
        let whole = complete.then(|| sa.fragments.iter().flat_map(|f| f.3.clone()).collect());
        sa.fragments.clear();
        whole
    }
}
