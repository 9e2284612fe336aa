//! Builders for the operator requests scenarios use most ("put node2 in
//! standby", "set target-role=Stopped", "maintenance-mode=true"), as the
//! cibadmin modifications crm_attribute and crm_resource send.

use crate::messages::CibOp;

fn escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `crm_attribute --type crm_config --name NAME --update VALUE`.
pub fn set_property(name: &str, value: &str) -> CibOp {
    let (n, v) = (escape(name), escape(value));
    CibOp::Modify {
        section: "crm_config".into(),
        xml: format!(
            "<cluster_property_set id=\"cib-bootstrap-options\"><nvpair id=\"cib-bootstrap-options-{n}\" name=\"{n}\" value=\"{v}\"/></cluster_property_set>"
        ),
    }
}

/// `crm_attribute --node NODE --name NAME --update VALUE` (permanent node
/// attribute, e.g. standby=on). `node_id` is the node's id in `<nodes>`.
pub fn set_node_attr(node_id: &str, name: &str, value: &str) -> CibOp {
    let (id, n, v) = (escape(node_id), escape(name), escape(value));
    CibOp::Modify {
        section: "nodes".into(),
        xml: format!(
            "<node id=\"{id}\"><instance_attributes id=\"nodes-{id}\"><nvpair id=\"nodes-{id}-{n}\" name=\"{n}\" value=\"{v}\"/></instance_attributes></node>"
        ),
    }
}

/// `crm_resource --resource RSC --meta --set-parameter NAME --parameter-value
/// VALUE`; `tag` is the resource's element (primitive, group, clone, master).
pub fn set_resource_meta(tag: &str, rsc: &str, name: &str, value: &str) -> CibOp {
    let (t, r, n, v) = (escape(tag), escape(rsc), escape(name), escape(value));
    CibOp::Modify {
        section: "resources".into(),
        xml: format!(
            "<{t} id=\"{r}\"><meta_attributes id=\"{r}-meta_attributes\"><nvpair id=\"{r}-meta_attributes-{n}\" name=\"{n}\" value=\"{v}\"/></meta_attributes></{t}>"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_escape_and_name_sections() {
        match set_property("maintenance-mode", "a\"b") {
            CibOp::Modify { section, xml } => {
                assert_eq!(section, "crm_config");
                assert!(xml.contains("value=\"a&quot;b\""));
            }
            other => panic!("unexpected {other:?}"),
        }
        match set_node_attr("2", "standby", "on") {
            CibOp::Modify { section, xml } => {
                assert_eq!(section, "nodes");
                assert!(xml.contains("<node id=\"2\">"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
