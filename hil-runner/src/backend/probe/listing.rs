//! Probe listings: a probe that probe-rs lists once per USB interface is one probe.

use probe_rs::probe::DebugProbeInfo;

use super::ProbeInfo;
use crate::board::UsbId;

/// Each probe once: probe-rs lists a probe once per USB interface it offers its debug
/// function on; those entries (same name, ids and serial number) are one probe, with the
/// interfaces it was listed on. Order is kept (first entry of each probe).
pub fn merge_interfaces(listed: Vec<ProbeInfo>) -> Vec<ProbeInfo> {
    let mut probes: Vec<ProbeInfo> = Vec::new();
    for mut entry in listed {
        entry.interfaces.extend(entry.id.interface.take());
        let same = probes
            .iter_mut()
            .find(|p| p.id == entry.id && p.identifier == entry.identifier);
        match same {
            Some(probe) => {
                probe.interfaces.extend(entry.interfaces);
                probe.accessible |= entry.accessible;
            }
            None => probes.push(entry),
        }
    }
    for probe in &mut probes {
        probe.interfaces.sort_unstable();
        probe.interfaces.dedup();
    }
    probes
}

/// The probes of a probe-rs listing (with whether this user may open each entry), each
/// once: see [`merge_interfaces`] (what [`super::real::ProbeRs`] lists).
pub fn probes_of(listing: &[(DebugProbeInfo, bool)]) -> Vec<ProbeInfo> {
    merge_interfaces(
        listing
            .iter()
            .map(|(info, accessible)| ProbeInfo {
                identifier: info.identifier.clone(),
                id: UsbId {
                    vendor_id: info.vendor_id,
                    product_id: info.product_id,
                    interface: None,
                    serial: info.serial_number.clone(),
                },
                interfaces: info.interface.into_iter().collect(),
                accessible: *accessible,
            })
            .collect(),
    )
}
