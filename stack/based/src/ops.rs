//! Applying cibadmin operations to the element tree, and the version rules:
//! a configuration change bumps epoch (num_updates back to 0), a status
//! change bumps num_updates, admin_epoch changes only when an operator
//! replaces the CIB with a higher one.

use hasim_cib::xml::parse;
use hasim_cib::Element;
use hasim_pcmk_proto::{CibOp, CibVersion};

use crate::patchset::PatchError;
use crate::track::{Before, Changed, Children, Old, OldChild};
use crate::tree::{
    delete, delete_tracked, find_mut, find_path, get, get_mut, is_section, merge, merge_tracked,
    section_mut, section_path,
};

fn parse_arg(xml: &str) -> Result<Element, String> {
    parse(xml).map_err(|e| format!("request XML, {e}"))
}

pub(crate) fn set_version(cib: &mut Element, v: CibVersion) {
    cib.set_attr("admin_epoch", &v.admin_epoch.to_string());
    cib.set_attr("epoch", &v.epoch.to_string());
    cib.set_attr("num_updates", &v.num_updates.to_string());
}

/// Replace the whole CIB. Refused when the replacement is older than the
/// current copy (by admin_epoch, then epoch), as cibadmin's replace is.
fn replace_whole(cib: &mut Element, new: Element) -> Result<(), String> {
    let cur = CibVersion::of(&cib.attrs);
    let given = CibVersion::of(&new.attrs);
    if (given.admin_epoch, given.epoch) < (cur.admin_epoch, cur.epoch) {
        return Err(format!(
            "replacement has older version {given} than the current {cur}"
        ));
    }
    let status = cib.children.iter().find(|c| c.name == "status").cloned();
    let mut new = new;
    let has_status = new
        .children
        .iter()
        .any(|c| c.name == "status" && !c.children.is_empty());
    if !has_status {
        new.children.retain(|c| c.name != "status");
        new.children
            .push(status.unwrap_or_else(|| Element::new("status")));
    }
    let epoch = if given.admin_epoch > cur.admin_epoch {
        given.epoch
    } else {
        given.epoch.max(cur.epoch + 1)
    };
    set_version(
        &mut new,
        CibVersion {
            admin_epoch: given.admin_epoch,
            epoch,
            num_updates: 0,
        },
    );
    *cib = new;
    Ok(())
}

/// `cibadmin --modify` on a section: merge into the section itself, into
/// the element with the update's tag and id, or append the update.
fn modify(cib: &mut Element, section: &str, xml: &str) -> Result<Before, String> {
    if !is_section(section) {
        return Err(format!("unknown section '{section}'"));
    }
    let upd = parse_arg(xml)?;
    let Some(sec_path) = section_path(cib, section) else {
        // The section is created: rare, recorded as a whole copy.
        let old = cib.clone();
        let sec =
            section_mut(cib, section).ok_or_else(|| format!("unknown section '{section}'"))?;
        modify_in(sec, upd);
        return Ok(Before::whole(old, cib));
    };
    let sec = get_mut(cib, &sec_path);
    let inner = if upd.name == section {
        merge_tracked(sec, &upd)
    } else if let Some(path) = upd.attr("id").and_then(|id| find_path(sec, &upd.name, id)) {
        let changed = merge_tracked(get_mut(sec, &path), &upd);
        Before::at_path(sec, &path, changed)
    } else {
        let existing = sec.children.len();
        sec.children.push(upd);
        Before::Changed(Box::new(Changed {
            attrs: sec.attrs.clone(),
            children: Children::Listed(
                (0..existing)
                    .map(|i| OldChild::Now(i, Before::Same))
                    .collect(),
            ),
        }))
    };
    Ok(Before::at_path(cib, &sec_path, inner))
}

/// The untracked form of [`modify`] inside an existing section element.
fn modify_in(sec: &mut Element, upd: Element) {
    if upd.name == sec.name {
        merge(sec, &upd);
    } else if let Some(target) = upd.attr("id").and_then(|id| find_mut(sec, &upd.name, id)) {
        merge(target, &upd);
    } else {
        sec.children.push(upd);
    }
}

/// Delete by tag and id inside a section.
fn delete_in(cib: &mut Element, section: &str, tag: &str, id: &str) -> Result<Before, String> {
    let Some(sec_path) = section_path(cib, section) else {
        // An unknown name, or a section created empty: recorded whole.
        let old = cib.clone();
        let sec =
            section_mut(cib, section).ok_or_else(|| format!("unknown section '{section}'"))?;
        delete(sec, tag, id);
        return Ok(Before::whole(old, cib));
    };
    let inner = delete_tracked(get_mut(cib, &sec_path), tag, id);
    Ok(Before::at_path(cib, &sec_path, inner))
}

/// Replace the whole CIB or one section; rare operator requests, recorded
/// as a whole copy. Returns whether the whole CIB was replaced.
fn replace(cib: &mut Element, xml: &str) -> Result<(Before, bool), String> {
    let new = parse_arg(xml)?;
    let old = cib.clone();
    if new.name == "cib" {
        replace_whole(cib, new)?;
        return Ok((Before::whole(old, cib), true));
    }
    let name = new.name.clone();
    let sec = section_mut(cib, &name).ok_or_else(|| format!("unknown section '{name}'"))?;
    *sec = new;
    Ok((Before::whole(old, cib), false))
}

/// Apply one update operation and bump the version; returns whether the
/// configuration changed. Queries change nothing.
pub fn apply(cib: &mut Element, op: &CibOp) -> Result<bool, String> {
    apply_tracked(cib, op).map(|(config_changed, _)| config_changed)
}

/// [`apply`], also returning what the operation changed (the CIB before
/// it, sharing the untouched parts with the CIB now), from which the
/// patchset is computed without copying the CIB.
pub fn apply_tracked(cib: &mut Element, op: &CibOp) -> Result<(bool, Before), String> {
    let before = match op {
        CibOp::Query => return Ok((false, Before::Same)),
        CibOp::Replace { xml } => {
            let (before, whole) = replace(cib, xml)?;
            if whole {
                return Ok((true, before));
            }
            before
        }
        CibOp::Modify { section, xml } => modify(cib, section, xml)?,
        CibOp::Delete { tag, id } => delete_tracked(cib, tag, id),
        CibOp::DeleteAt { path } => match delete_at_tracked(cib, path) {
            Ok(b) => b,
            Err(PatchError::NoSuchElement(_)) => Before::Same,
            Err(e) => return Err(e.to_string()),
        },
        CibOp::DeleteIn { section, tag, id } => delete_in(cib, section, tag, id)?,
    };
    let (config_changed, changed) = {
        let old = Old::of(&before, cib);
        let config_same = match (old.child("configuration"), cib.child("configuration")) {
            (Some(o), Some(n)) => o.same_as(n),
            (o, n) => o.is_none() && n.is_none(),
        };
        (!config_same, !old.same_as(cib))
    };
    let mut v = CibVersion::of(&cib.attrs);
    if config_changed {
        v.epoch += 1;
        v.num_updates = 0;
    } else if changed {
        v.num_updates += 1;
    }
    set_version(cib, v);
    Ok((config_changed, before))
}

/// Remove the element at `path` (the first child of its parent equal to
/// it), recording the change.
fn delete_at_tracked(cib: &mut Element, path: &str) -> Result<Before, PatchError> {
    let Some(removal) = crate::patchset::delete_at(cib, path)? else {
        return Ok(Before::Same);
    };
    let parent = get(cib, &removal.parent);
    let mut list: Vec<OldChild> = (0..removal.index)
        .map(|k| OldChild::Now(k, Before::Same))
        .collect();
    list.push(OldChild::Removed(removal.element));
    list.extend((removal.index..parent.children.len()).map(|k| OldChild::Now(k, Before::Same)));
    let inner = Before::Changed(Box::new(Changed {
        attrs: parent.attrs.clone(),
        children: Children::Listed(list),
    }));
    Ok(Before::at_path(cib, &removal.parent, inner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::empty_cib;
    use hasim_pcmk_proto::cibops;

    #[test]
    fn config_bumps_epoch_status_bumps_updates() {
        let mut cib = empty_cib();
        assert!(apply(&mut cib, &cibops::set_property("maintenance-mode", "true")).unwrap());
        assert_eq!(CibVersion::of(&cib.attrs).to_string(), "0.1.0");
        let st = CibOp::Modify {
            section: "status".into(),
            xml: r#"<node_state id="1" uname="n1" crmd="online"/>"#.into(),
        };
        assert!(!apply(&mut cib, &st).unwrap());
        assert_eq!(CibVersion::of(&cib.attrs).to_string(), "0.1.1");
        // Same update again: no change, no bump.
        apply(&mut cib, &st).unwrap();
        assert_eq!(CibVersion::of(&cib.attrs).to_string(), "0.1.1");
        apply(&mut cib, &cibops::set_property("maintenance-mode", "false")).unwrap();
        assert_eq!(CibVersion::of(&cib.attrs).to_string(), "0.2.0");
    }

    #[test]
    fn replace_refuses_older_and_keeps_status() {
        let mut cib = empty_cib();
        apply(
            &mut cib,
            &CibOp::Modify {
                section: "status".into(),
                xml: r#"<node_state id="1"/>"#.into(),
            },
        )
        .unwrap();
        set_version(
            &mut cib,
            CibVersion {
                admin_epoch: 0,
                epoch: 5,
                num_updates: 1,
            },
        );
        let old = r#"<cib admin_epoch="0" epoch="4"><configuration/></cib>"#;
        assert!(apply(&mut cib, &CibOp::Replace { xml: old.into() }).is_err());
        let newer =
            r#"<cib admin_epoch="1" epoch="2"><configuration><resources/></configuration></cib>"#;
        apply(&mut cib, &CibOp::Replace { xml: newer.into() }).unwrap();
        assert_eq!(CibVersion::of(&cib.attrs).to_string(), "1.2.0");
        assert!(cib.to_xml_string().contains("node_state"));
        let err = apply(
            &mut cib,
            &CibOp::Modify {
                section: "x".into(),
                xml: "<a/>".into(),
            },
        );
        assert!(err.unwrap_err().contains("unknown section"));
        let err = apply(
            &mut cib,
            &CibOp::Modify {
                section: "nodes".into(),
                xml: "<a".into(),
            },
        );
        assert!(err.unwrap_err().contains("line"));
        let st = CibOp::Modify {
            section: "status".into(),
            xml: r#"<node_state id="2"><lrm id="2"/></node_state>"#.into(),
        };
        apply(&mut cib, &st).unwrap();
        let path = "/cib/status/node_state[@id='2']/lrm[@id='2']".to_string();
        apply(&mut cib, &CibOp::DeleteAt { path: path.clone() }).unwrap();
        assert!(!cib.to_xml_string().contains("<lrm"));
        // Deleting what is not there is not an error.
        apply(&mut cib, &CibOp::DeleteAt { path }).unwrap();
    }
}
