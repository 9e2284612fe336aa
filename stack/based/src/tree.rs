//! Operations on the CIB's element tree: sections, merge by tag and id,
//! deletion, digest.

use hasim_cib::Element;
use md5::{Digest, Md5};

use crate::track::{Before, Changed, Children, OldChild};

/// The CIB a node starts from when it has none on disk.
pub fn empty_cib() -> Element {
    let mut cib = Element::new("cib");
    for (k, v) in [
        ("admin_epoch", "0"),
        ("epoch", "0"),
        ("num_updates", "0"),
        ("validate-with", "pacemaker-3.7"),
        ("crm_feature_set", "3.16.2"),
    ] {
        cib.set_attr(k, v);
    }
    let mut config = Element::new("configuration");
    for s in ["crm_config", "nodes", "resources", "constraints"] {
        config.children.push(Element::new(s));
    }
    cib.children.push(config);
    cib.children.push(Element::new("status"));
    cib
}

/// Sections that live directly under `<configuration>`.
const CONFIG_SECTIONS: [&str; 6] = [
    "crm_config",
    "nodes",
    "resources",
    "constraints",
    "rsc_defaults",
    "op_defaults",
];

/// Whether `name` names a CIB section cibadmin's `-o` accepts.
pub fn is_section(name: &str) -> bool {
    matches!(name, "cib" | "configuration" | "status") || CONFIG_SECTIONS.contains(&name)
}

fn child_mut<'a>(el: &'a mut Element, name: &str) -> &'a mut Element {
    let pos = match el.children.iter().position(|c| c.name == name) {
        Some(p) => p,
        None => {
            el.children.push(Element::new(name));
            el.children.len() - 1
        }
    };
    &mut el.children[pos]
}

/// The element of a section, created if missing; `None` for an unknown name.
pub fn section_mut<'a>(cib: &'a mut Element, name: &str) -> Option<&'a mut Element> {
    match name {
        "cib" => Some(cib),
        "configuration" | "status" => Some(child_mut(cib, name)),
        n if CONFIG_SECTIONS.contains(&n) => Some(child_mut(child_mut(cib, "configuration"), n)),
        _ => None,
    }
}

/// The element at index path `path` below `root` (each index picks a child).
pub fn get<'a>(root: &'a Element, path: &[usize]) -> &'a Element {
    path.iter().fold(root, |el, &i| &el.children[i])
}

/// The element at index path `path` below `root`, mutably.
pub fn get_mut<'a>(root: &'a mut Element, path: &[usize]) -> &'a mut Element {
    path.iter().fold(root, |el, &i| &mut el.children[i])
}

/// The index path of a section below the CIB root, `None` when the
/// section does not exist (yet) or the name is no section.
pub fn section_path(cib: &Element, name: &str) -> Option<Vec<usize>> {
    let pos = |el: &Element, n: &str| el.children.iter().position(|c| c.name == n);
    match name {
        "cib" => Some(Vec::new()),
        "configuration" | "status" => Some(vec![pos(cib, name)?]),
        n if CONFIG_SECTIONS.contains(&n) => {
            let config = pos(cib, "configuration")?;
            Some(vec![config, pos(&cib.children[config], n)?])
        }
        _ => None,
    }
}

/// The index path of the first element (depth first, `el` included) with
/// this tag and id: the element [`find_mut`] finds.
pub fn find_path(el: &Element, tag: &str, id: &str) -> Option<Vec<usize>> {
    fn walk(el: &Element, tag: &str, id: &str, path: &mut Vec<usize>) -> bool {
        if el.name == tag && el.attr("id") == Some(id) {
            return true;
        }
        for (i, c) in el.children.iter().enumerate() {
            path.push(i);
            if walk(c, tag, id, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = Vec::new();
    walk(el, tag, id, &mut path).then_some(path)
}

/// The first element (depth first, `el` included) with this tag and id.
pub fn find_mut<'a>(el: &'a mut Element, tag: &str, id: &str) -> Option<&'a mut Element> {
    if el.name == tag && el.attr("id") == Some(id) {
        return Some(el);
    }
    for c in el.children.iter_mut() {
        if let Some(found) = find_mut(c, tag, id) {
            return Some(found);
        }
    }
    None
}

/// Merge `update` into `target` (same tag and id): attributes are set,
/// children merged by tag and id (id-less children by tag), new children
/// appended. This is what `cibadmin --modify` does.
pub fn merge(target: &mut Element, update: &Element) {
    for (k, v) in &update.attrs {
        target.set_attr(k, v);
    }
    for child in &update.children {
        let id = child.attr("id");
        let slot = target
            .children
            .iter_mut()
            .find(|c| c.name == child.name && c.attr("id") == id);
        match slot {
            Some(existing) => merge(existing, child),
            None => target.children.push(child.clone()),
        }
    }
}

/// Whether two children of `update` have the same tag and id (or are both
/// id-less with the same tag): [`merge`] would then merge twice into one
/// target child.
fn has_duplicate_children(update: &Element) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    !update
        .children
        .iter()
        .all(|c| seen.insert((c.name.as_str(), c.attr("id"))))
}

/// [`merge`], recording what it changed.
pub fn merge_tracked(target: &mut Element, update: &Element) -> Before {
    if has_duplicate_children(update) {
        let old = target.clone();
        merge(target, update);
        return Before::whole(old, target);
    }
    let old_attrs = target.attrs.clone();
    let mut attrs_changed = false;
    for (k, v) in &update.attrs {
        if target.attr(k) != Some(v.as_str()) {
            target.set_attr(k, v);
            attrs_changed = true;
        }
    }
    let existing = target.children.len();
    let mut inner: Vec<(usize, Before)> = Vec::new();
    for child in &update.children {
        let id = child.attr("id");
        let slot = target
            .children
            .iter()
            .position(|c| c.name == child.name && c.attr("id") == id);
        match slot {
            Some(j) if j < existing => {
                let b = merge_tracked(&mut target.children[j], child);
                if !b.is_same() {
                    inner.push((j, b));
                }
            }
            Some(j) => merge(&mut target.children[j], child),
            None => target.children.push(child.clone()),
        }
    }
    inner.sort_by_key(|(j, _)| *j);
    let appended = target.children.len() > existing;
    if !attrs_changed && inner.is_empty() && !appended {
        return Before::Same;
    }
    let children = if appended {
        let mut list: Vec<OldChild> = (0..existing)
            .map(|i| OldChild::Now(i, Before::Same))
            .collect();
        for (j, b) in inner {
            list[j] = OldChild::Now(j, b);
        }
        Children::Listed(list)
    } else {
        Children::InPlace(inner)
    };
    Before::Changed(Box::new(Changed {
        attrs: old_attrs,
        children,
    }))
}

/// [`delete`], recording what it changed.
pub fn delete_tracked(el: &mut Element, tag: &str, id: &str) -> Before {
    let hit = |c: &Element| c.name == tag && c.attr("id") == Some(id);
    if !el.children.iter().any(hit) {
        let inner: Vec<(usize, Before)> = el
            .children
            .iter_mut()
            .enumerate()
            .map(|(i, c)| (i, delete_tracked(c, tag, id)))
            .filter(|(_, b)| !b.is_same())
            .collect();
        return Before::inside(el, inner);
    }
    let attrs = el.attrs.clone();
    let mut list = Vec::with_capacity(el.children.len());
    let mut slot_of = Vec::with_capacity(el.children.len());
    for c in std::mem::take(&mut el.children) {
        if hit(&c) {
            list.push(OldChild::Removed(c));
        } else {
            slot_of.push(list.len());
            list.push(OldChild::Now(el.children.len(), Before::Same));
            el.children.push(c);
        }
    }
    for (i, c) in el.children.iter_mut().enumerate() {
        let b = delete_tracked(c, tag, id);
        if !b.is_same() {
            list[slot_of[i]] = OldChild::Now(i, b);
        }
    }
    Before::Changed(Box::new(Changed {
        attrs,
        children: Children::Listed(list),
    }))
}

/// Remove every element with this tag and id below `el`; returns how many.
pub fn delete(el: &mut Element, tag: &str, id: &str) -> usize {
    let before = el.children.len();
    el.children
        .retain(|c| !(c.name == tag && c.attr("id") == Some(id)));
    let mut removed = before - el.children.len();
    for c in el.children.iter_mut() {
        removed += delete(c, tag, id);
    }
    removed
}

/// MD5 of the canonical serialization (versions included): two nodes with
/// the same digest hold the same CIB.
pub fn digest(cib: &Element) -> String {
    digest_with(cib, &mut String::new())
}

/// [`digest`], serialising into `buf` (cleared first): the CIB manager
/// digests its whole CIB on every change and keeps one buffer for it.
pub fn digest_with(cib: &Element, buf: &mut String) -> String {
    buf.clear();
    cib.write_xml(buf);
    let hash = Md5::digest(buf.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// A copy without the status section's contents (what goes to disk: the
/// status is rebuilt from the live cluster on start, as Pacemaker does).
pub fn without_status(cib: &Element) -> Element {
    let mut copy = cib.clone();
    for c in copy.children.iter_mut() {
        if c.name == "status" {
            c.children.clear();
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasim_cib::xml::parse;

    #[test]
    fn merge_updates_by_id_and_appends_new() {
        let mut cib = empty_cib();
        let nodes = section_mut(&mut cib, "nodes").unwrap();
        let upd = parse(r#"<node id="1" uname="n1"><instance_attributes id="nodes-1"><nvpair id="a" name="standby" value="on"/></instance_attributes></node>"#).unwrap();
        nodes
            .children
            .push(Element::new("node").with_attr("id", Some("1")));
        let target = find_mut(nodes, "node", "1").unwrap();
        merge(target, &upd);
        let again = parse(r#"<node id="1"><instance_attributes id="nodes-1"><nvpair id="a" name="standby" value="off"/></instance_attributes></node>"#).unwrap();
        merge(find_mut(&mut cib, "node", "1").unwrap(), &again);
        let xml = cib.to_xml_string();
        assert!(xml.contains("value=\"off\""), "{xml}");
        assert!(!xml.contains("value=\"on\""), "{xml}");
        assert!(xml.contains("uname=\"n1\""));
        assert_eq!(delete(&mut cib, "nvpair", "a"), 1);
        assert!(!cib.to_xml_string().contains("standby"));
    }

    #[test]
    fn digest_changes_with_content_and_status_is_dropped_for_disk() {
        let mut cib = empty_cib();
        let d0 = digest(&cib);
        section_mut(&mut cib, "status")
            .unwrap()
            .children
            .push(Element::new("node_state").with_attr("id", Some("1")));
        assert_ne!(d0, digest(&cib));
        assert_eq!(digest(&without_status(&cib)), d0);
        assert!(section_mut(&mut cib, "bogus").is_none());
        assert!(is_section("op_defaults") && !is_section("bogus"));
    }
}
