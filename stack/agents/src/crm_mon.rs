//! What an agent learns from `crm_mon` (galera's `master_exists`): the
//! cluster's resource state as the scheduler unpacks the CIB's status
//! section, the same way `crm_mon` does.

use hasim_cib::{Cib, Element};
use hasim_scheduler::unpack::unpack;
use hasim_scheduler::ws::{Role, Variant};

/// Whether an instance of `rsc` (a clone's primitive id) is promoted,
/// active and not failed on some node (`crm_mon` shows it with
/// `role="Promoted" active="true" orphaned="false" failed="false"`).
/// A CIB that cannot be read shows nothing.
pub fn promoted_instance(cib: &Element, rsc: &str) -> bool {
    let Ok(cib) = Cib::from_element(cib) else {
        return false;
    };
    let ws = unpack(&cib);
    ws.rscs.iter().any(|r| {
        r.variant == Variant::Primitive
            && r.base_id == rsc
            && r.role == Role::Promoted
            && !r.running_on.is_empty()
            && !r.failed
            && !r.orphan
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cib(ops: &str) -> Element {
        let xml = format!(
            r#"<cib admin_epoch="0" epoch="1" num_updates="0"><configuration><crm_config/><nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes><resources><clone id="galera-clone"><meta_attributes id="m"><nvpair id="m1" name="promotable" value="true"/><nvpair id="m2" name="promoted-max" value="2"/></meta_attributes><primitive id="galera" class="ocf" provider="heartbeat" type="galera"/></clone></resources><constraints/></configuration><status><node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources><lrm_resource id="galera" class="ocf" provider="heartbeat" type="galera">{ops}</lrm_resource></lrm_resources></lrm></node_state></status></cib>"#
        );
        Cib::from_xml(&xml).unwrap().to_element()
    }

    fn op(id: &str, task: &str, call: u32, rc: i32) -> String {
        format!(
            r#"<lrm_rsc_op id="{id}" operation_key="galera_{task}_0" operation="{task}" call-id="{call}" rc-code="{rc}" op-status="0" interval="0" transition-key="1:1:0:x" on_node="n1"/>"#
        )
    }

    #[test]
    fn a_promoted_instance_shows_and_a_started_one_does_not() {
        let started = cib(&op("galera_last_0", "start", 2, 0));
        assert!(!promoted_instance(&started, "galera"));
        let promoted = cib(&op("galera_last_0", "promote", 3, 0));
        assert!(promoted_instance(&promoted, "galera"));
        assert!(!promoted_instance(&promoted, "other"));
    }
}
