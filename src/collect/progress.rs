//! Progress on a terminal: one indicatif line per plane (requests done / queued, retries,
//! throttling waits). Off the terminal (CI, pipes, tests) it prints nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

struct Plane {
    name: &'static str,
    bar: ProgressBar,
    queued: AtomicU64,
    done: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
}

/// Per-plane progress lines.
pub struct Progress {
    planes: Vec<Plane>,
    _multi: Option<MultiProgress>,
}

impl Progress {
    /// `visible` is whether stderr is a terminal.
    pub fn new(visible: bool) -> Progress {
        let multi = visible.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let style = ProgressStyle::with_template("{spinner} {prefix:6} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let planes = ["arm", "graph", "o365"]
            .into_iter()
            .map(|name| {
                let bar = match &multi {
                    Some(m) => m.add(ProgressBar::new_spinner()),
                    None => ProgressBar::hidden(),
                };
                bar.set_style(style.clone());
                bar.set_prefix(name);
                if multi.is_some() {
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                }
                Plane {
                    name,
                    bar,
                    queued: AtomicU64::new(0),
                    done: AtomicU64::new(0),
                    retries: AtomicU64::new(0),
                    throttled: AtomicU64::new(0),
                }
            })
            .collect();
        Progress {
            planes,
            _multi: multi,
        }
    }

    fn plane(&self, name: &str) -> Option<&Plane> {
        self.planes.iter().find(|p| p.name == name)
    }

    fn redraw(p: &Plane) {
        if p.bar.is_hidden() {
            return;
        }
        let done = p.done.load(Ordering::Relaxed);
        let queued = p.queued.load(Ordering::Relaxed);
        p.bar.set_message(format!(
            "{done} done, {} pending, {} retries, {} throttling waits",
            queued.saturating_sub(done),
            p.retries.load(Ordering::Relaxed),
            p.throttled.load(Ordering::Relaxed)
        ));
    }

    pub fn pending(&self, plane: &str, n: u64) {
        if let Some(p) = self.plane(plane) {
            p.queued.fetch_add(n, Ordering::Relaxed);
            Self::redraw(p);
        }
    }

    pub fn done(&self, plane: &str) {
        if let Some(p) = self.plane(plane) {
            p.done.fetch_add(1, Ordering::Relaxed);
            Self::redraw(p);
        }
    }

    pub fn retry(&self, plane: &str, throttled: bool) {
        if let Some(p) = self.plane(plane) {
            p.retries.fetch_add(1, Ordering::Relaxed);
            if throttled {
                p.throttled.fetch_add(1, Ordering::Relaxed);
            }
            Self::redraw(p);
        }
    }

    /// Stops the spinners, leaving the final counts on screen.
    pub fn finish(&self) {
        for p in &self.planes {
            if !p.bar.is_hidden() {
                Self::redraw(p);
                p.bar.finish();
            }
        }
    }
}
