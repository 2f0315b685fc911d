//! Counted slots per client address: how many streams, polls or uploads
//! one address holds open at once. A [`Slot`] frees itself when dropped.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

pub struct Slots {
    /// Slots per address; 0: no cap.
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One open slot; dropping it frees it.
pub struct Slot {
    open: Option<Arc<Mutex<HashMap<IpAddr, usize>>>>,
    addr: IpAddr,
}

impl Slots {
    pub fn new(max: usize) -> Slots {
        Slots {
            max,
            open: Arc::default(),
        }
    }

    /// A slot for `addr`, or `None` when it holds all it may.
    pub fn open(&self, addr: IpAddr) -> Option<Slot> {
        if self.max == 0 {
            return Some(Slot { open: None, addr });
        }
        let mut open = lock(&self.open);
        let count = open.entry(addr).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            open: Some(self.open.clone()),
            addr,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(open) = &self.open else {
            return;
        };
        let mut open = lock(open);
        if let Some(count) = open.get_mut(&self.addr) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_address_and_freed_on_drop() {
        let slots = Slots::new(2);
        let addr: IpAddr = "10.0.0.3".parse().unwrap();
        let a = slots.open(addr).unwrap();
        let _b = slots.open(addr).unwrap();
        assert!(slots.open(addr).is_none());
        assert!(slots.open("10.0.0.4".parse().unwrap()).is_some());
        drop(a);
        assert!(slots.open(addr).is_some());
    }

    #[test]
    fn zero_is_no_cap() {
        let slots = Slots::new(0);
        let addr: IpAddr = "10.0.0.5".parse().unwrap();
        let held: Vec<_> = (0..1000).map(|_| slots.open(addr).unwrap()).collect();
        assert_eq!(held.len(), 1000);
    }
}
