//! What Pacemaker's schema refuses before scheduling: duplicate ids,
//! references to ids that do not exist, and scores that are neither an
//! integer nor `INFINITY`/`+INFINITY`/`-INFINITY`. Messages follow
//! libxml2's wording (as crm_simulate prints them), located at the element.
//! CIBs that declare `validate-with="none"` are not checked, as in
//! Pacemaker.

use std::collections::BTreeMap;

use crate::xml::{Element, XmlError};

/// Elements whose `id` attribute is a reference or free text, not an ID.
const NOT_AN_ID: &[&str] = &["node", "resource_ref", "obj_ref", "acl_target", "acl_group"];

/// Attributes that reference an ID, per element.
const REFERENCES: &[(&str, &[&str])] = &[
    ("rsc_location", &["rsc"]),
    ("rsc_colocation", &["rsc", "with-rsc"]),
    ("rsc_order", &["first", "then"]),
    ("rsc_ticket", &["rsc"]),
    ("resource_ref", &["id"]),
    ("obj_ref", &["id"]),
];

/// Elements whose `score` attribute must be a score.
const SCORED: &[&str] = &[
    "rsc_location",
    "rsc_colocation",
    "rsc_order",
    "rule",
    "resource_set",
];

/// Refuse what Pacemaker's schema validation refuses in `<configuration>`.
pub fn validate(root: &Element) -> Result<(), XmlError> {
    if root.attr("validate-with") == Some("none") {
        return Ok(());
    }
    let Some(config) = root.child("configuration") else {
        return Ok(());
    };
    let elements = walk(config);
    let mut ids: BTreeMap<&str, &Element> = BTreeMap::new();
    for el in &elements {
        if NOT_AN_ID.contains(&el.name.as_str()) {
            continue;
        }
        if let Some(id) = el.attr("id") {
            if ids.insert(id, el).is_some() {
                return Err(el.error(format!("element {}: ID {id} redefined", el.name)));
            }
        }
    }
    for el in &elements {
        check_references(el, &ids)?;
        if SCORED.contains(&el.name.as_str()) {
            if let Some(score) = el.attr("score") {
                if !is_valid_score(score) {
                    return Err(el.error(format!(
                        "element {}: invalid score '{score}' (expected an integer, INFINITY, +INFINITY or -INFINITY)",
                        el.name
                    )));
                }
            }
        }
    }
    Ok(())
}

fn check_references(el: &Element, ids: &BTreeMap<&str, &Element>) -> Result<(), XmlError> {
    let Some((_, attrs)) = REFERENCES.iter().find(|(name, _)| *name == el.name) else {
        return Ok(());
    };
    for attr in *attrs {
        if let Some(target) = el.attr(attr) {
            if !ids.contains_key(target) {
                return Err(el.error(format!(
                    "element {}: IDREF attribute {attr} references an unknown ID \"{target}\"",
                    el.name
                )));
            }
        }
    }
    Ok(())
}

/// Every element under `root` (excluding ACLs, whose ids follow other
/// rules), in document order, without recursion.
fn walk(root: &Element) -> Vec<&Element> {
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(el) = todo.pop() {
        if el.name == "acls" {
            continue;
        }
        out.push(el);
        todo.extend(el.children.iter().rev());
    }
    out
}

/// The schema's score type: an XML Schema integer (optional sign, digits,
/// surrounding whitespace) or one of the three infinities, case-sensitive.
pub fn is_valid_score(text: &str) -> bool {
    let t = text.trim_matches([' ', '\t', '\n', '\r']);
    if matches!(t, "INFINITY" | "+INFINITY" | "-INFINITY") {
        return true;
    }
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cib(resources: &str, constraints: &str) -> String {
        format!(
            "<cib validate-with=\"pacemaker-3.7\"><configuration><crm_config/><nodes>\
             <node id=\"1\" uname=\"node1\"/></nodes><resources>{resources}</resources>\
             <constraints>{constraints}</constraints></configuration><status/></cib>"
        )
    }

    fn check(text: &str) -> Result<(), XmlError> {
        validate(&crate::xml::parse(text).expect("well-formed"))
    }

    const R: &str = "<primitive id=\"a\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>\
                     <primitive id=\"b\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>";

    #[test]
    fn scores_follow_the_schema() {
        for ok in [
            "INFINITY",
            "+INFINITY",
            "-INFINITY",
            " 10 ",
            "+5",
            "00012",
            "-3",
        ] {
            assert!(is_valid_score(ok), "{ok}");
        }
        for bad in ["INFINITYX", "infinity", "red", "1e3", "", "+", "10x"] {
            assert!(!is_valid_score(bad), "{bad}");
        }
        let loc = "<rsc_location id=\"l1\" rsc=\"a\" node=\"node1\" score=\"INFINITYX\"/>";
        let err = check(&cib(R, loc)).expect_err("invalid score");
        assert!(err.message.contains("invalid score 'INFINITYX'"), "{err}");
        check(&cib(R, &loc.replace("INFINITYX", "-INFINITY"))).expect("valid score");
    }

    #[test]
    fn references_must_exist() {
        let order = "<rsc_order id=\"o1\" first=\"a\" then=\"nosuch\"/>";
        let err = check(&cib(R, order)).expect_err("missing");
        assert_eq!(
            err.message,
            "element rsc_order: IDREF attribute then references an unknown ID \"nosuch\""
        );
        let set = "<rsc_colocation id=\"c\" score=\"10\"><resource_set id=\"s\">\
                   <resource_ref id=\"a\"/><resource_ref id=\"zz\"/></resource_set></rsc_colocation>";
        assert!(check(&cib(R, set)).is_err());
        check(&cib(R, &order.replace("nosuch", "b"))).expect("both exist");
    }

    #[test]
    fn duplicate_ids_are_refused_but_not_without_validation() {
        let dup = R.replace("id=\"b\"", "id=\"a\"");
        let err = check(&cib(&dup, "")).expect_err("duplicate");
        assert_eq!(err.message, "element primitive: ID a redefined");
        let none = cib(&dup, "").replace("pacemaker-3.7", "none");
        check(&none).expect("validate-with=none skips validation");
    }
}
