//! Switches, one per thread, that a serialisation reads through `skip_serializing_if` (or
//! `serialize_with`) to leave part of a value out: the CEL scope's text without the hourly
//! points or the namespaces it reads apart, results.json without the checks it renders apart.
//! Every other serialisation, on any thread, keeps those parts, because a switch is on only on
//! the thread that turned it on and only while [`with`] runs.

use std::cell::Cell;
use std::thread::LocalKey;

/// A switch: a thread-local flag, off unless [`with`] turns it on.
pub type Switch = LocalKey<Cell<bool>>;

/// Whether `switch` is on on this thread.
pub fn is_on(switch: &'static Switch) -> bool {
    switch.with(Cell::get)
}

/// Runs `f` with `switch` set to `on` on this thread; it is set back however `f` ends.
pub fn with<R>(switch: &'static Switch, on: bool, f: impl FnOnce() -> R) -> R {
    /// Sets the switch back to what it was, on return or unwinding.
    struct Restore(&'static Switch, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.with(|c| c.set(self.1));
        }
    }
    let _restore = Restore(switch, switch.with(|c| c.replace(on)));
    f()
}

#[cfg(test)]
mod tests {
    thread_local! {
        static SWITCH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    #[test]
    fn a_switch_is_on_only_inside_with_and_only_on_its_thread() {
        assert!(!super::is_on(&SWITCH));
        super::with(&SWITCH, true, || {
            assert!(super::is_on(&SWITCH));
            std::thread::spawn(|| assert!(!super::is_on(&SWITCH)))
                .join()
                .unwrap();
            super::with(&SWITCH, false, || assert!(!super::is_on(&SWITCH)));
            assert!(super::is_on(&SWITCH), "a nested use sets it back to on");
        });
        assert!(!super::is_on(&SWITCH));
        let unwound = std::panic::catch_unwind(|| super::with(&SWITCH, true, || panic!("inside")));
        assert!(unwound.is_err());
        assert!(!super::is_on(&SWITCH), "set back when unwinding");
    }
}
