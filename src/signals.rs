//! Terminating signals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM, SIGUSR1 and SIGUSR2 are all
//! handled like Ctrl-C, so no command leaves a temporary `.siemproof-*` directory behind
//! whichever of them ends it (SIGKILL cannot be handled; its leftovers are only ever beside the
//! target, never in it).
//!
//! `collect` awaits [`terminating`] beside its work and drops the work (and its temporary
//! bundle) when a signal comes; every other command relies on [`watch`], started in `main`,
//! which removes the registered temporary directories ([`crate::files`]). Either way the exit
//! code is the shell's 128 + signal number (130 for Ctrl-C, 143 for SIGTERM), so a scheduler
//! or a CI step tells an interrupted run from a failed one.

use anyhow::{Context, Result};

/// A run ended by a terminating signal; `main` exits with [`Interrupted::exit_code`].
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {signal}: {what}")]
pub struct Interrupted {
    pub signal: &'static str,
    /// What was (not) left behind, e.g. "no bundle written to out/".
    pub what: String,
}

impl Interrupted {
    pub fn exit_code(&self) -> u8 {
        exit_code(self.signal)
    }
}

/// 128 + the signal's number, as shells report a process a signal ended.
pub fn exit_code(signal: &str) -> u8 {
    128 + match signal {
        "SIGHUP" => 1,
        "SIGQUIT" => 3,
        "SIGUSR1" => 10,
        "SIGUSR2" => 12,
        "SIGALRM" => 14,
        "SIGTERM" => 15,
        // SIGINT, and Ctrl-C where there are no Unix signals.
        _ => 2,
    }
}

/// Resolves with the name of the first terminating signal received. Handlers are installed
/// when this is called, so no later signal falls through to the default action.
#[cfg(unix)]
pub fn terminating() -> Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
        (SignalKind::alarm(), "SIGALRM"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ];
    let mut streams = Vec::new();
    for (k, name) in kinds {
        streams.push((
            signal(k).with_context(|| format!("cannot handle {name}"))?,
            name,
        ));
    }
    Ok(async move {
        let waits = streams.iter_mut().map(|(s, name)| {
            Box::pin(async move {
                s.recv().await;
                *name
            })
        });
        futures::future::select_all(waits).await.0
    })
}

/// Ctrl-C only, where there are no Unix signals.
#[cfg(not(unix))]
pub fn terminating() -> Result<impl std::future::Future<Output = &'static str>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    })
}

/// Starts a thread that, on the first terminating signal, removes this process's temporary
/// output directories and exits with 128 + the signal's number. Returns once the handlers are
/// installed.
pub fn watch() {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("siemproof-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                let _ = ready_tx.send(());
                return;
            };
            rt.block_on(async move {
                let Ok(signal) = terminating() else {
                    let _ = ready_tx.send(());
                    return;
                };
                let _ = ready_tx.send(());
                let name = signal.await;
                let removed = crate::files::remove_temporaries();
                eprintln!(
                    "error: interrupted by {name}: nothing was written{}",
                    if removed > 0 {
                        " (the temporary output was removed; any previous output is unchanged)"
                    } else {
                        ""
                    }
                );
                std::process::exit(exit_code(name).into());
            });
        });
    if spawned.is_ok() {
        let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(2));
    }
}
