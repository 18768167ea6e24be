//! The synchronisation primitives the latches and the sleep protocol use:
//! `parking_lot` and `std` normally, [`loom`](https://docs.rs/loom)'s
//! model-checked versions under `--cfg loom` (see `src/loom_tests.rs`).
//!
//! Only the code whose protocol is modelled goes through here; the rest of
//! the crate uses `parking_lot` and `std` directly.

#[cfg(not(loom))]
mod imp {
    pub(crate) use parking_lot::{Condvar as RawCondvar, Mutex, MutexGuard};
    pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
    pub(crate) use std::thread::{self, park_timeout, Thread};
    use std::time::Instant;

    /// `std`'s cell with loom's access API, so loom can check who touches
    /// a value shared through an atomic protocol, and when.
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// `parking_lot`'s condition variable, with the timed wait reporting
    /// a plain `bool`.
    #[derive(Default)]
    pub(crate) struct Condvar(RawCondvar);

    impl Condvar {
        pub(crate) const fn new() -> Self {
            Condvar(RawCondvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            self.0.wait(guard);
        }
        /// Waits until notified or `deadline`; true when it timed out.
        pub(crate) fn wait_until<T>(&self, guard: &mut MutexGuard<'_, T>, deadline: Instant) -> bool {
            self.0.wait_until(guard, deadline).timed_out()
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
    pub(crate) use loom::thread::{self, Thread};
    use std::ops::{Deref, DerefMut};
    use std::time::{Duration, Instant};

    /// loom has no clock: parks until unparked (callers re-check).
    pub(crate) fn park_timeout(_limit: Duration) {
        thread::park();
    }

    /// loom's mutex with `parking_lot`'s signature (no poisoning).
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard, held in an `Option` so the condition variable can take it
    /// by value as loom's does and put it back.
    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().unwrap_or_else(|e| e.into_inner())))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("guard present")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("guard present")
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let inner = guard.0.take().expect("guard present");
            guard.0 = Some(self.0.wait(inner).unwrap_or_else(|e| e.into_inner()));
        }
        /// loom has no clock: a timed wait is an untimed one that may
        /// return early (callers treat it as spurious).
        pub(crate) fn wait_until<T>(&self, guard: &mut MutexGuard<'_, T>, _deadline: Instant) -> bool {
            self.wait(guard);
            false
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

pub(crate) use imp::*;
