//! Sessions kept open between runs: the core stays halted after a run, an embedded-test suite is flashed once.

use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use super::{ProbeInfo, TargetControl};

/// A session kept open after a run, with its core halted.
pub(super) struct Parked {
    pub(super) probe: ProbeInfo,
    pub(super) chip: String,
    pub(super) ctl: Box<dyn TargetControl>,
    /// Digest of the image flashed through it ([`image_digest`]).
    pub(super) flashed: Option<u64>,
}

/// Sessions kept open between runs, one per probe and chip: the core stays halted after a
/// run (closing a session would let it run again), the next run needs no new attach, and an
/// embedded-test suite is flashed once ([`ProbeBackend::reuse_flashed`]).
#[derive(Default)]
pub struct Sessions {
    parked: Mutex<Vec<Parked>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.parked.lock().map_or(0, |p| p.len());
        write!(f, "Sessions({n} parked)")
    }
}

impl Sessions {
    /// The sessions of this process (the real probes): never closed, so cores stay halted.
    pub fn global() -> Arc<Self> {
        static GLOBAL: LazyLock<Arc<Sessions>> = LazyLock::new(Arc::default);
        GLOBAL.clone()
    }

    /// How many sessions are parked.
    pub fn len(&self) -> usize {
        self.parked.lock().map_or(0, |p| p.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn take(&self, probe: &ProbeInfo, chip: &str) -> Option<Parked> {
        let mut parked = self.parked.lock().ok()?;
        let at = parked
            .iter()
            .position(|p| p.probe.id == probe.id && p.chip == chip)?;
        Some(parked.swap_remove(at))
    }

    pub(super) fn park(&self, parked: Parked) {
        if let Ok(mut all) = self.parked.lock() {
            all.push(parked);
        }
    }
}

/// A digest of the ELF's bytes: whether the image on the chip is this one.
pub(super) fn image_digest(elf: &Path) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let bytes = std::fs::read(elf).ok()?;
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    Some(hasher.finish())
}
