//! Progress on a terminal for long reads: bytes of raw input read of the total (or, for a
//! vector export, chunks loaded of the total), the rate and the time left, redrawn from ingest's counters ([`chatql::ingest::Progress`]) by a small
//! thread. Nothing is drawn when stderr is not a terminal, with `--quiet`, or while nothing
//! raw is being read (a converted folder).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chatql::ingest::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar of one command; cleared when dropped.
pub(super) struct InputBar {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InputBar {
    /// Shows `verb` (e.g. "convert") with the bytes `progress` counts, if stderr is a
    /// terminal and `show`.
    pub(super) fn start(verb: &'static str, progress: &Progress, show: bool) -> InputBar {
        Self::start_with(
            verb,
            "{bytes}/{total_bytes} {bytes_per_sec}",
            progress,
            show,
        )
    }

    /// The same bar over a count of `unit`s (e.g. the chunks a vector export walked).
    pub(super) fn items(unit: &'static str, progress: &Progress, show: bool) -> InputBar {
        let counts: &'static str = match unit {
            "chunks" => "{pos}/{len} chunks {per_sec}",
            _ => "{pos}/{len} {per_sec}",
        };
        Self::start_with("load", counts, progress, show)
    }

    fn start_with(
        verb: &'static str,
        counts: &'static str,
        progress: &Progress,
        show: bool,
    ) -> InputBar {
        let stop = Arc::new(AtomicBool::new(false));
        let visible = show && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let thread = visible.then(|| {
            let (stop, progress) = (stop.clone(), progress.clone());
            std::thread::spawn(move || draw(verb, counts, &progress, &stop))
        });
        InputBar { stop, thread }
    }
}

impl Drop for InputBar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn draw(verb: &str, counts: &str, progress: &Progress, stop: &AtomicBool) {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {verb} {counts} {{wide_bar}} {{eta}} left"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut shown = false;
    while !stop.load(Ordering::Relaxed) {
        let (read, total) = progress.get();
        if total > 0 {
            if !shown {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                shown = true;
            }
            bar.set_length(total.max(read));
            bar.set_position(read);
            // All of it done: the bar goes, so that the next step's bar (a vector export
            // reads raw inputs, then loads chunks) has the line to itself.
            if read >= total {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}
