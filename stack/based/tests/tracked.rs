//! The patchset computed from what an update recorded while it was applied
//! must be exactly the diff of the whole CIB before and after it, for any
//! operation on any tree (id-less and duplicate siblings, sections missing,
//! paths that name nothing).

use hasim_based::ops::apply_tracked;
use hasim_based::patchset::{self, Patchset};
use hasim_based::shared::SharedCib;
use hasim_based::track::Old;
use hasim_based::tree::digest;
use hasim_cib::Element;
use hasim_pcmk_proto::{CibOp, CibVersion};
use proptest::prelude::*;

/// A small deterministic generator driven by proptest's seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NAMES: [&str; 5] = ["a", "b", "node_state", "lrm", "nvpair"];
const IDS: [&str; 3] = ["1", "2", "3'"];
const KEYS: [&str; 3] = ["x", "y", "z"];
const SECTIONS: [&str; 9] = [
    "status",
    "status",
    "nodes",
    "resources",
    "crm_config",
    "configuration",
    "cib",
    "op_defaults",
    "bogus",
];

fn element(g: &mut Gen, name: &str, depth: usize) -> Element {
    let mut el = Element::new(name);
    if g.below(5) < 3 {
        el.set_attr("id", g.pick(&IDS));
    }
    for _ in 0..g.below(3) {
        let k = g.pick(&KEYS);
        el.set_attr(k, &g.below(3).to_string());
    }
    if depth > 0 {
        for _ in 0..g.below(4) {
            let n = g.pick(&NAMES);
            let mut c = element(g, n, depth - 1);
            // Mostly unique ids among siblings, as in a real CIB.
            let taken = |el: &Element, c: &Element| {
                el.children.iter().any(|s| {
                    s.name == c.name && s.attr("id").is_some() && s.attr("id") == c.attr("id")
                })
            };
            if taken(&el, &c) && g.below(8) != 0 {
                c.attrs.retain(|(k, _)| k != "id");
            }
            el.children.push(c);
        }
    }
    el
}

fn cib(g: &mut Gen) -> Element {
    let mut root = Element::new("cib");
    for (k, v) in [("admin_epoch", "0"), ("epoch", "3"), ("num_updates", "7")] {
        root.set_attr(k, v);
    }
    let mut config = Element::new("configuration");
    for s in ["crm_config", "nodes", "resources"] {
        let mut sec = element(g, s, 3);
        sec.attrs.clear();
        config.children.push(sec);
    }
    root.children.push(config);
    let mut status = element(g, "status", 4);
    status.attrs.clear();
    root.children.push(status);
    if g.below(6) == 0 {
        root.children.push(element(g, "a", 2));
    }
    root
}

/// A random element of the tree and the path a patchset would use for it.
fn some_path(g: &mut Gen, root: &Element) -> String {
    let mut path = format!("/{}", root.name);
    let mut cur = root;
    while !cur.children.is_empty() && g.below(4) != 0 {
        let i = g.below(cur.children.len());
        let c = &cur.children[i];
        let seg = match c.attr("id") {
            Some(id) => format!("{}[@id='{}']", c.name, id.replace('\'', "&apos;")),
            None => {
                let nth = cur.children[..=i]
                    .iter()
                    .filter(|s| s.name == c.name && s.attr("id").is_none())
                    .count();
                format!("{}[{nth}]", c.name)
            }
        };
        path = format!("{path}/{seg}");
        cur = c;
    }
    path
}

/// A random existing element (to build updates that hit it).
fn some_element<'a>(g: &mut Gen, root: &'a Element) -> &'a Element {
    let mut cur = root;
    while !cur.children.is_empty() && g.below(3) != 0 {
        cur = &cur.children[g.below(cur.children.len())];
    }
    cur
}

fn op(g: &mut Gen, cib: &Element) -> CibOp {
    match g.below(7) {
        0 | 1 => {
            let section = g.pick(&SECTIONS).to_string();
            let mut upd = match g.below(3) {
                0 => element(g, &section, 2),
                1 => {
                    let hit = some_element(g, cib);
                    let mut upd = element(g, &hit.name, 2);
                    upd.attrs.retain(|(k, _)| k != "id");
                    if let Some(id) = hit.attr("id") {
                        upd.set_attr("id", id);
                    }
                    upd
                }
                _ => {
                    let n = g.pick(&NAMES);
                    element(g, n, 2)
                }
            };
            if g.below(3) == 0 {
                // Updates that repeat a child key merge twice.
                if let Some(c) = upd.children.first().cloned() {
                    upd.children.push(c);
                }
            }
            CibOp::Modify {
                section,
                xml: upd.to_xml_string(),
            }
        }
        2 => CibOp::Delete {
            tag: g.pick(&NAMES).into(),
            id: g.pick(&IDS).into(),
        },
        3 => CibOp::DeleteIn {
            section: g.pick(&SECTIONS).into(),
            tag: g.pick(&NAMES).into(),
            id: g.pick(&IDS).into(),
        },
        4 | 5 => {
            let mut path = some_path(g, cib);
            if g.below(8) == 0 {
                path.push_str(["/", "/zz[1]", "[", "/a[@id='9']"][g.below(4)]);
            }
            CibOp::DeleteAt { path }
        }
        _ => {
            let mut new = match g.below(3) {
                0 => cib.clone(),
                1 => {
                    let section = g.pick(&["status", "nodes", "resources"]);
                    element(g, section, 2)
                }
                _ => element(g, "status", 2),
            };
            new.attrs.retain(|(k, _)| k != "epoch" || g.below(2) == 0);
            CibOp::Replace {
                xml: new.to_xml_string(),
            }
        }
    }
}

/// Whether some element has two children with the same tag and id.
fn has_duplicate_siblings(el: &Element) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    let dup = el
        .children
        .iter()
        .filter_map(|c| Some((c.name.as_str(), c.attr("id")?)))
        .any(|k| !seen.insert(k));
    dup || el.children.iter().any(has_duplicate_siblings)
}

/// The whole-tree diff as it was before it was made incremental (linear
/// searches, cloned child lists), to show the rewrite changes no output.
mod reference {
    use hasim_based::patchset::Change;
    use hasim_cib::Element;

    const VERSION_ATTRS: [&str; 3] = ["admin_epoch", "epoch", "num_updates"];

    fn segment(siblings: &[Element], index: usize) -> String {
        let el = &siblings[index];
        match el.attr("id") {
            Some(id) => format!("{}[@id='{}']", el.name, id.replace('\'', "&apos;")),
            None => {
                let nth = siblings[..=index]
                    .iter()
                    .filter(|c| c.name == el.name && c.attr("id").is_none())
                    .count();
                format!("{}[{}]", el.name, nth)
            }
        }
    }

    fn keys(children: &[Element]) -> Vec<(String, Option<String>, usize)> {
        children
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let nth = match c.attr("id") {
                    Some(_) => 0,
                    None => children[..i]
                        .iter()
                        .filter(|s| s.name == c.name && s.attr("id").is_none())
                        .count(),
                };
                (c.name.clone(), c.attr("id").map(str::to_string), nth)
            })
            .collect()
    }

    fn diff_attrs(old: &Element, new: &Element, root: bool, path: &str, out: &mut Vec<Change>) {
        let skip = |k: &str| root && VERSION_ATTRS.contains(&k);
        let set: Vec<(String, String)> = new
            .attrs
            .iter()
            .filter(|(k, v)| !skip(k) && old.attr(k) != Some(v.as_str()))
            .cloned()
            .collect();
        let unset: Vec<String> = old
            .attrs
            .iter()
            .filter(|(k, _)| !skip(k) && new.attr(k).is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !set.is_empty() || !unset.is_empty() {
            out.push(Change::Modify {
                path: path.to_string(),
                set,
                unset,
            });
        }
    }

    fn diff_children(old: &Element, new: &Element, path: &str, out: &mut Vec<Change>) {
        let (ok, nk) = (keys(&old.children), keys(&new.children));
        let common_old: Vec<&_> = ok.iter().filter(|k| nk.contains(k)).collect();
        let common_new: Vec<&_> = nk.iter().filter(|k| ok.contains(k)).collect();
        let reordered = common_old != common_new;
        let mut kept: Vec<Element> = Vec::new();
        let mut kept_from: Vec<usize> = Vec::new();
        for i in (0..old.children.len()).rev() {
            if reordered || !nk.contains(&ok[i]) {
                out.push(Change::Delete {
                    path: format!("{path}/{}", segment(&old.children, i)),
                });
            }
        }
        for (i, c) in old.children.iter().enumerate() {
            if !reordered && nk.contains(&ok[i]) {
                kept.push(c.clone());
                kept_from.push(i);
            }
        }
        for (i, c) in kept.iter().enumerate() {
            let Some(j) = nk.iter().position(|k| *k == ok[kept_from[i]]) else {
                continue;
            };
            let child_path = format!("{path}/{}", segment(&kept, i));
            diff_element(c, &new.children[j], false, &child_path, out);
        }
        for (j, c) in new.children.iter().enumerate() {
            if reordered || !ok.contains(&nk[j]) {
                out.push(Change::Create {
                    parent: path.to_string(),
                    position: j,
                    element: c.clone(),
                });
            }
        }
    }

    fn diff_element(old: &Element, new: &Element, root: bool, path: &str, out: &mut Vec<Change>) {
        diff_attrs(old, new, root, path, out);
        diff_children(old, new, path, out);
    }

    pub fn diff(old: &Element, new: &Element) -> Vec<Change> {
        let mut changes = Vec::new();
        diff_element(old, new, true, &format!("/{}", old.name), &mut changes);
        changes
    }
}

/// Patchset application as it was before it worked in place (a copy of
/// the whole CIB, changed and swapped in), to show the undo log keeps its
/// results.
mod reference_apply {
    use hasim_based::patchset::{Change, PatchError, Patchset};
    use hasim_cib::Element;
    use hasim_pcmk_proto::CibVersion;

    fn parse_path(path: &str) -> Result<Vec<(String, Option<String>, usize)>, PatchError> {
        let bad = || PatchError::Malformed(format!("bad path {path}"));
        let mut out = Vec::new();
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            match seg.find('[') {
                None => out.push((seg.to_string(), None, 1)),
                Some(b) => {
                    let (name, rest) = seg.split_at(b);
                    let inner = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
                    let inner = inner.ok_or_else(bad)?;
                    if let Some(id) = inner
                        .strip_prefix("@id='")
                        .and_then(|r| r.strip_suffix('\''))
                    {
                        out.push((name.to_string(), Some(id.replace("&apos;", "'")), 0));
                    } else {
                        let n = inner.parse::<usize>().map_err(|_| bad())?;
                        out.push((name.to_string(), None, n));
                    }
                }
            }
        }
        Ok(out)
    }

    pub fn resolve<'a>(root: &'a mut Element, path: &str) -> Result<&'a mut Element, PatchError> {
        let segs = parse_path(path)?;
        let missing = || PatchError::NoSuchElement(path.to_string());
        let Some(((first, _, _), rest)) = segs.split_first() else {
            return Err(missing());
        };
        if *first != root.name {
            return Err(missing());
        }
        let mut cur = root;
        for (name, id, nth) in rest {
            let idx = match id {
                Some(id) => cur
                    .children
                    .iter()
                    .position(|c| c.name == *name && c.attr("id") == Some(id.as_str())),
                None => cur
                    .children
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.name == *name && c.attr("id").is_none())
                    .nth(nth.saturating_sub(1))
                    .map(|(i, _)| i),
            };
            cur = &mut cur.children[idx.ok_or_else(missing)?];
        }
        Ok(cur)
    }

    fn apply_change(root: &mut Element, change: &Change) -> Result<(), PatchError> {
        match change {
            Change::Create {
                parent,
                position,
                element,
            } => {
                let p = resolve(root, parent)?;
                let at = (*position).min(p.children.len());
                p.children.insert(at, element.clone());
            }
            Change::Delete { path } => delete_at(root, path)?,
            Change::Modify { path, set, unset } => {
                let el = resolve(root, path)?;
                for (k, v) in set {
                    el.set_attr(k, v);
                }
                el.attrs.retain(|(k, _)| !unset.contains(k));
            }
        }
        Ok(())
    }

    /// Remove the element at `path`.
    pub fn delete_at(root: &mut Element, path: &str) -> Result<(), PatchError> {
        let (parent, _) = path
            .rsplit_once('/')
            .ok_or_else(|| PatchError::Malformed(path.to_string()))?;
        let target = resolve(root, path)?.clone();
        let p = resolve(root, parent)?;
        if let Some(i) = p.children.iter().position(|c| *c == target) {
            p.children.remove(i);
        }
        Ok(())
    }

    fn set_version(root: &mut Element, v: CibVersion) {
        root.set_attr("admin_epoch", &v.admin_epoch.to_string());
        root.set_attr("epoch", &v.epoch.to_string());
        root.set_attr("num_updates", &v.num_updates.to_string());
    }

    /// Apply a patchset; the CIB must be at the source version. On error the
    /// CIB is left unchanged.
    pub fn apply(root: &mut Element, p: &Patchset) -> Result<(), PatchError> {
        let local = CibVersion::of(&root.attrs);
        if local != p.source {
            return Err(PatchError::VersionMismatch {
                local,
                source: p.source,
            });
        }
        let mut work = root.clone();
        for c in &p.changes {
            apply_change(&mut work, c)?;
        }
        set_version(&mut work, p.target);
        *root = work;
        Ok(())
    }
}

/// Runs six random updates from a random CIB; returns how many changed
/// something and had their patchset compared.
fn check(seed: u64) -> usize {
    let mut compared = 0;
    let mut g = Gen(seed | 1);
    let mut now = cib(&mut g);
    // A primary and a peer as the CIB manager keeps them: their digests
    // (written from kept texts) must be those of the whole CIB.
    let mut primary = SharedCib::new(now.clone());
    let mut peer = SharedCib::new(now.clone());
    let mut buf = String::new();
    for _ in 0..6 {
        let op = op(&mut g, &now);
        let before = now.clone();
        let result = apply_tracked(&mut now, &op);
        let shared = primary.apply_op(&op);
        assert_eq!(primary.get(), &now);
        assert_eq!(primary.digest(&mut buf), digest(&now));
        if let Ok((_, record)) = &shared {
            let p = patchset::diff_tracked(record, primary.get());
            if peer.apply_patch(&p).is_err() {
                peer = SharedCib::new(now.clone());
            }
            assert_eq!(peer.digest(&mut buf), digest(peer.get()));
        }
        let Ok((config_changed, record)) = result else {
            assert_eq!(now, before, "a refused {op:?} changed the CIB");
            continue;
        };
        let mut old = Old::of(&record, &now).materialize();
        // The record holds the CIB before the operation, versions included.
        if !matches!(&op, CibOp::Replace { xml } if xml.starts_with("<cib")) {
            assert_eq!(old, before, "record of {op:?}");
            let cfg = before.child("configuration") != now.child("configuration");
            assert_eq!(config_changed, cfg, "{op:?}");
        }
        let (v0, v1) = (CibVersion::of(&before.attrs), CibVersion::of(&now.attrs));
        assert_eq!(v0 != v1, before != now, "version bump of {op:?}");
        let whole = patchset::diff(&before, &now);
        assert_eq!(
            whole.changes,
            reference::diff(&before, &now),
            "diff of {op:?}"
        );
        let tracked = patchset::diff_tracked(&record, &now);
        if has_duplicate_siblings(&before) || has_duplicate_siblings(&now) {
            // Two siblings with one tag and id (the CIB schema forbids
            // them) all match the first: the whole-tree diff then reports
            // changes inside unchanged subtrees, which the tracked diff
            // does not look at.
            continue;
        }
        assert_eq!(tracked, whole, "patchset of {op:?}");
        compared += usize::from(!whole.changes.is_empty());
        // Peers apply what they receive as they did with a whole copy.
        let wire = Patchset::from_xml(&tracked.to_xml()).unwrap();
        old = before.clone();
        let mut copy = before.clone();
        assert_eq!(
            patchset::apply(&mut old, &wire),
            reference_apply::apply(&mut copy, &wire)
        );
        assert_eq!(old, copy, "applying {}", wire.to_xml());
    }
    compared
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn tracked_patchset_equals_whole_tree_diff(seed in any::<u64>()) {
        check(seed);
    }
}

#[test]
fn most_random_updates_are_compared() {
    let n: usize = (0..500).map(|seed| check(seed * 7919)).sum();
    assert!(n > 1000, "only {n} of 3000 updates compared with a change");
}
