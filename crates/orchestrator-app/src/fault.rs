//! A test-only fault hook for whole-process crash tests, read only by debug builds: the
//! binaries people run are release builds, which never look at it.
//!
//! `ORCHESTRATOR_FAULT=<point>:<step>` (points: `before`, `after-effect`, `after`) makes the
//! process announce `fault-hook: reached <point>:<step>` on stderr when a run gets there and
//! then wait forever, so the test can SIGKILL it at exactly that point — no timing involved.

use provision_core::engine::{Crashed, FaultHook, FaultPoint};
use std::io::Write;
use std::sync::Arc;

/// The hook `ORCHESTRATOR_FAULT` asks for, in a debug build. A release build does not even
/// read the variable.
pub fn from_env() -> Option<Arc<dyn FaultHook>> {
    if cfg!(debug_assertions) {
        let spec = std::env::var("ORCHESTRATOR_FAULT").ok()?;
        let point = parse(&spec)?;
        Some(Arc::new(FreezeAt(point)))
    } else {
        None
    }
}

/// Parses `before:3`, `after-effect:3` or `after:3`.
pub fn parse(spec: &str) -> Option<FaultPoint> {
    let (point, step) = spec.split_once(':')?;
    let step: usize = step.parse().ok()?;
    match point {
        "before" => Some(FaultPoint::BeforeStep(step)),
        "after-effect" => Some(FaultPoint::AfterEffect(step)),
        "after" => Some(FaultPoint::AfterStep(step)),
        _ => None,
    }
}

/// Freezes the process at one fault point.
pub struct FreezeAt(pub FaultPoint);

impl FaultHook for FreezeAt {
    fn reached(&self, point: FaultPoint) -> Result<(), Crashed> {
        if point != self.0 {
            return Ok(());
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "fault-hook: reached {point:?}");
        let _ = err.flush();
        loop {
            std::thread::park();
        }
    }
}
