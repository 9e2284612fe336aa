//! Pacemaker's v2 XML patchsets (`<diff format="2">`): the changes between
//! two CIB versions as create / delete / modify operations on XPath-like
//! paths (`/cib/configuration/resources/primitive[@id='vip']`; id-less
//! elements by position among same-named siblings, `lrm[1]`).
//!
//! Changes are ordered so that applying them in sequence is exact: at each
//! level deletions come first (last sibling first), then changes inside
//! the surviving children, then creations in final position order.

use std::collections::{BTreeMap, BTreeSet};

use hasim_cib::xml::parse;
use hasim_cib::Element;
use hasim_pcmk_proto::CibVersion;

use crate::track::{Before, Old};
use crate::tree::{get, get_mut};

/// One change of a patchset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Insert `element` as child number `position` of the element at `parent`.
    Create {
        parent: String,
        position: usize,
        element: Element,
    },
    Delete {
        path: String,
    },
    /// Set and remove attributes of the element at `path`.
    Modify {
        path: String,
        set: Vec<(String, String)>,
        unset: Vec<String>,
    },
}

/// The changes from version `source` to version `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patchset {
    pub source: CibVersion,
    pub target: CibVersion,
    pub changes: Vec<Change>,
}

/// Why a patchset does not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// The local CIB is not at the patchset's source version.
    VersionMismatch {
        local: CibVersion,
        source: CibVersion,
    },
    /// A path names no element.
    NoSuchElement(String),
    /// The patchset XML is malformed.
    Malformed(String),
}

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatchError::VersionMismatch { local, source } => {
                write!(f, "patchset applies to {source}, local CIB is {local}")
            }
            PatchError::NoSuchElement(p) => write!(f, "no element at {p}"),
            PatchError::Malformed(m) => write!(f, "malformed patchset: {m}"),
        }
    }
}

const VERSION_ATTRS: [&str; 3] = ["admin_epoch", "epoch", "num_updates"];

/// A path segment: `tag[@id='x']`, or `tag[n]` for the n-th (1-based)
/// id-less sibling with this tag.
fn segment(name: &str, id: Option<&str>, nth: usize) -> String {
    match id {
        Some(id) => format!("{}[@id='{}']", name, id.replace('\'', "&apos;")),
        None => format!("{name}[{nth}]"),
    }
}

/// Identity of a child for matching: tag, id, and for id-less children
/// their rank (0-based) among id-less siblings of the same tag.
type Key<'a> = (&'a str, Option<&'a str>, usize);

fn keys<'a>(children: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> Vec<Key<'a>> {
    let mut ranks: BTreeMap<&str, usize> = BTreeMap::new();
    children
        .map(|(name, id)| {
            let nth = match id {
                Some(_) => 0,
                None => {
                    let r = ranks.entry(name).or_insert(0);
                    *r += 1;
                    *r - 1
                }
            };
            (name, id, nth)
        })
        .collect()
}

fn diff_attrs(
    old: &[(String, String)],
    new: &Element,
    root: bool,
    path: &str,
    out: &mut Vec<Change>,
) {
    let skip = |k: &str| root && VERSION_ATTRS.contains(&k);
    let old_attr = |k: &str| old.iter().find(|(ok, _)| ok == k).map(|(_, v)| v.as_str());
    let set: Vec<(String, String)> = new
        .attrs
        .iter()
        .filter(|(k, v)| !skip(k) && old_attr(k) != Some(v.as_str()))
        .cloned()
        .collect();
    let unset: Vec<String> = old
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

/// The child-list part of the diff. Children are matched by [`Key`]; if
/// the children both lists share are in a different order, every child is
/// deleted and created again.
fn diff_children(old: &[Old<'_>], new: &[Element], path: &str, out: &mut Vec<Change>) {
    let ok = keys(old.iter().map(|c| (c.name(), c.attr("id"))));
    let nk = keys(new.iter().map(|c| (c.name.as_str(), c.attr("id"))));
    let mut first_new: BTreeMap<Key<'_>, usize> = BTreeMap::new();
    for (j, k) in nk.iter().enumerate() {
        first_new.entry(*k).or_insert(j);
    }
    let in_old: BTreeSet<Key<'_>> = ok.iter().copied().collect();
    let common_old = ok.iter().filter(|k| first_new.contains_key(k));
    let common_new = nk.iter().filter(|k| in_old.contains(k));
    let reordered = !common_old.eq(common_new);
    let kept = |i: usize| !reordered && first_new.contains_key(&ok[i]);
    for i in (0..old.len()).rev() {
        if !kept(i) {
            let seg = segment(ok[i].0, ok[i].1, ok[i].2 + 1);
            out.push(Change::Delete {
                path: format!("{path}/{seg}"),
            });
        }
    }
    // Kept children are addressed by their rank among the kept ones (the
    // deletions above come first when the patch is applied).
    let mut kept_ranks: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in old.iter().enumerate() {
        if !kept(i) {
            continue;
        }
        let (name, id, _) = ok[i];
        let nth = match id {
            Some(_) => 0,
            None => {
                let r = kept_ranks.entry(name).or_insert(0);
                *r += 1;
                *r
            }
        };
        let j = first_new[&ok[i]];
        if c.is(&new[j]) {
            continue;
        }
        let child_path = format!("{path}/{}", segment(name, id, nth));
        diff_element(*c, &new[j], false, &child_path, out);
    }
    for (j, c) in new.iter().enumerate() {
        if reordered || !in_old.contains(&nk[j]) {
            out.push(Change::Create {
                parent: path.to_string(),
                position: j,
                element: c.clone(),
            });
        }
    }
}

fn diff_element(old: Old<'_>, new: &Element, root: bool, path: &str, out: &mut Vec<Change>) {
    if old.is(new) {
        return;
    }
    diff_attrs(old.attrs(), new, root, path, out);
    diff_children(&old.children(), &new.children, path, out);
}

/// The patchset turning `old` into `new` (both `<cib>` roots).
pub fn diff(old: &Element, new: &Element) -> Patchset {
    diff_from(Old::El(old), new)
}

/// The patchset from the CIB before an update (as recorded while the
/// update was applied) to the CIB `now`: the same as [`diff`] of the two
/// whole trees, at the cost of the changed parts only.
pub fn diff_tracked(before: &Before, now: &Element) -> Patchset {
    diff_from(Old::of(before, now), now)
}

fn diff_from(old: Old<'_>, new: &Element) -> Patchset {
    let mut changes = Vec::new();
    diff_element(old, new, true, &format!("/{}", old.name()), &mut changes);
    Patchset {
        source: CibVersion::of(old.attrs()),
        target: CibVersion::of(&new.attrs),
        changes,
    }
}

/// Split a path into (tag, selector) segments.
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

/// The index path (from the root) of the element at `path`.
pub(crate) fn resolve(root: &Element, path: &str) -> Result<Vec<usize>, PatchError> {
    let segs = parse_path(path)?;
    let missing = || PatchError::NoSuchElement(path.to_string());
    let Some(((first, _, _), rest)) = segs.split_first() else {
        return Err(missing());
    };
    if *first != root.name {
        return Err(missing());
    }
    let mut cur = root;
    let mut at = Vec::with_capacity(rest.len());
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
        let idx = idx.ok_or_else(missing)?;
        cur = &cur.children[idx];
        at.push(idx);
    }
    Ok(at)
}

/// How to take back one applied change (a patchset applies whole or not
/// at all).
enum Undo {
    Remove {
        parent: Vec<usize>,
        index: usize,
    },
    Insert(Option<Removal>),
    Attrs {
        at: Vec<usize>,
        attrs: Vec<(String, String)>,
    },
}

fn apply_change(root: &mut Element, change: &Change) -> Result<Undo, PatchError> {
    Ok(match change {
        Change::Create {
            parent,
            position,
            element,
        } => {
            let parent = resolve(root, parent)?;
            let p = get_mut(root, &parent);
            let index = (*position).min(p.children.len());
            p.children.insert(index, element.clone());
            Undo::Remove { parent, index }
        }
        Change::Delete { path } => Undo::Insert(delete_at(root, path)?),
        Change::Modify { path, set, unset } => {
            let at = resolve(root, path)?;
            let el = get_mut(root, &at);
            let attrs = el.attrs.clone();
            for (k, v) in set {
                el.set_attr(k, v);
            }
            el.attrs.retain(|(k, _)| !unset.contains(k));
            Undo::Attrs { at, attrs }
        }
    })
}

fn undo(root: &mut Element, undo: Undo) {
    match undo {
        Undo::Remove { parent, index } => {
            get_mut(root, &parent).children.remove(index);
        }
        Undo::Insert(Some(r)) => get_mut(root, &r.parent).children.insert(r.index, r.element),
        Undo::Insert(None) => {}
        Undo::Attrs { at, attrs } => get_mut(root, &at).attrs = attrs,
    }
}

/// An element removed from the tree, and where it was.
pub(crate) struct Removal {
    pub parent: Vec<usize>,
    pub index: usize,
    pub element: Element,
}

/// Remove the element at `path`: the first child of the element at the
/// path's parent part that is equal to it (none when the path names no
/// child of that element, as `a/b/` does).
pub(crate) fn delete_at(root: &mut Element, path: &str) -> Result<Option<Removal>, PatchError> {
    let (parent, _) = path
        .rsplit_once('/')
        .ok_or_else(|| PatchError::Malformed(path.to_string()))?;
    let target = resolve(root, path)?;
    let parent = resolve(root, parent)?;
    let index = {
        let target = get(root, &target);
        get(root, &parent).children.iter().position(|c| c == target)
    };
    let Some(index) = index else {
        return Ok(None);
    };
    let element = get_mut(root, &parent).children.remove(index);
    Ok(Some(Removal {
        parent,
        index,
        element,
    }))
}

fn set_version(root: &mut Element, v: CibVersion) {
    root.set_attr("admin_epoch", &v.admin_epoch.to_string());
    root.set_attr("epoch", &v.epoch.to_string());
    root.set_attr("num_updates", &v.num_updates.to_string());
}

/// Apply a patchset; the CIB must be at the source version. On error the
/// CIB is left unchanged (the changes applied so far are taken back).
pub fn apply(root: &mut Element, p: &Patchset) -> Result<(), PatchError> {
    let local = CibVersion::of(&root.attrs);
    if local != p.source {
        return Err(PatchError::VersionMismatch {
            local,
            source: p.source,
        });
    }
    let mut done = Vec::with_capacity(p.changes.len());
    for c in &p.changes {
        match apply_change(root, c) {
            Ok(u) => done.push(u),
            Err(e) => {
                for u in done.into_iter().rev() {
                    undo(root, u);
                }
                return Err(e);
            }
        }
    }
    set_version(root, p.target);
    Ok(())
}

fn version_el(name: &str, v: CibVersion) -> Element {
    let mut e = Element::new(name);
    set_version(&mut e, v);
    e
}

impl Patchset {
    /// Pacemaker's `<diff format="2">` document.
    pub fn to_xml(&self) -> String {
        let mut diff = Element::new("diff").with_attr("format", Some("2"));
        let mut version = Element::new("version");
        version.children.push(version_el("source", self.source));
        version.children.push(version_el("target", self.target));
        diff.children.push(version);
        for c in &self.changes {
            diff.children.push(change_el(c));
        }
        diff.to_xml_string()
    }

    /// Read a `<diff format="2">` document.
    pub fn from_xml(text: &str) -> Result<Patchset, PatchError> {
        let root = parse(text).map_err(|e| PatchError::Malformed(e.to_string()))?;
        if root.name != "diff" || root.attr("format") != Some("2") {
            return Err(PatchError::Malformed("expected <diff format=\"2\">".into()));
        }
        let version = root
            .child("version")
            .ok_or_else(|| PatchError::Malformed("no <version>".into()))?;
        let v = |n: &str| version.child(n).map(|e| CibVersion::of(&e.attrs));
        let (Some(source), Some(target)) = (v("source"), v("target")) else {
            return Err(PatchError::Malformed("no source/target version".into()));
        };
        let changes = root
            .children_named("change")
            .map(read_change)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Patchset {
            source,
            target,
            changes,
        })
    }
}

fn change_el(c: &Change) -> Element {
    let mut e = Element::new("change");
    match c {
        Change::Create {
            parent,
            position,
            element,
        } => {
            e.set_attr("operation", "create");
            e.set_attr("path", parent);
            e.set_attr("position", &position.to_string());
            e.children.push(element.clone());
        }
        Change::Delete { path } => {
            e.set_attr("operation", "delete");
            e.set_attr("path", path);
        }
        Change::Modify { path, set, unset } => {
            e.set_attr("operation", "modify");
            e.set_attr("path", path);
            let mut list = Element::new("change-list");
            for (k, v) in set {
                let mut a = Element::new("change-attr");
                a.attrs = vec![
                    ("name".into(), k.clone()),
                    ("operation".into(), "set".into()),
                    ("value".into(), v.clone()),
                ];
                list.children.push(a);
            }
            for k in unset {
                let mut a = Element::new("change-attr");
                a.attrs = vec![
                    ("name".into(), k.clone()),
                    ("operation".into(), "unset".into()),
                ];
                list.children.push(a);
            }
            e.children.push(list);
        }
    }
    e
}

fn read_change(e: &Element) -> Result<Change, PatchError> {
    let need = |k: &str| {
        e.attr(k)
            .map(str::to_string)
            .ok_or_else(|| PatchError::Malformed(format!("line {}: <change> needs {k}", e.line)))
    };
    match need("operation")?.as_str() {
        "create" => {
            Ok(Change::Create {
                parent: need("path")?,
                position: need("position")?
                    .parse()
                    .map_err(|_| PatchError::Malformed(format!("line {}: bad position", e.line)))?,
                element: e.children.first().cloned().ok_or_else(|| {
                    PatchError::Malformed(format!("line {}: empty create", e.line))
                })?,
            })
        }
        "delete" => Ok(Change::Delete {
            path: need("path")?,
        }),
        "modify" => {
            let mut set = Vec::new();
            let mut unset = Vec::new();
            let list = e
                .child("change-list")
                .map(|l| l.children.as_slice())
                .unwrap_or(&[]);
            for a in list {
                let name = a.attr("name").unwrap_or_default().to_string();
                match (a.attr("operation"), a.attr("value")) {
                    (Some("set"), Some(v)) => set.push((name, v.to_string())),
                    (Some("unset"), _) => unset.push(name),
                    _ => {
                        return Err(PatchError::Malformed(format!(
                            "line {}: bad change-attr",
                            a.line
                        )))
                    }
                }
            }
            Ok(Change::Modify {
                path: need("path")?,
                set,
                unset,
            })
        }
        other => Err(PatchError::Malformed(format!(
            "line {}: operation {other}",
            e.line
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cib(body: &str, epoch: u64) -> Element {
        parse(&format!(
            r#"<cib admin_epoch="0" epoch="{epoch}" num_updates="0"><configuration>{body}</configuration><status/></cib>"#
        ))
        .unwrap()
    }

    fn roundtrip(a: &Element, b: &Element) {
        let p = diff(a, b);
        let p = Patchset::from_xml(&p.to_xml()).unwrap();
        let mut x = a.clone();
        apply(&mut x, &p).unwrap();
        assert_eq!(x, *b, "patch {}", p.to_xml());
    }

    #[test]
    fn diff_then_apply_reproduces_the_target() {
        let a = cib(
            r#"<resources><primitive id="a" class="ocf"/><primitive id="b"/></resources><constraints/>"#,
            1,
        );
        let b = cib(
            r#"<resources><primitive id="a" class="lsb" type="x"/><group id="g"><primitive id="c"/></group></resources><constraints><rsc_order id="o" first="a" then="g"/></constraints>"#,
            2,
        );
        roundtrip(&a, &b);
        roundtrip(&b, &a);
        // id-less elements and reordering
        let c = cib(
            r#"<x/><y/><x a="1"/><resources><primitive id="b"/><primitive id="a"/></resources>"#,
            3,
        );
        let d = cib(
            r#"<x a="2"/><resources><primitive id="a"/><primitive id="b"/></resources><y/>"#,
            4,
        );
        roundtrip(&c, &d);
        roundtrip(&d, &c);
    }

    #[test]
    fn apply_refuses_wrong_source_and_bad_paths() {
        let a = cib("<resources/>", 1);
        let b = cib(r#"<resources><primitive id="p"/></resources>"#, 2);
        let p = diff(&a, &b);
        let mut other = cib("<resources/>", 5);
        assert!(matches!(
            apply(&mut other, &p),
            Err(PatchError::VersionMismatch { .. })
        ));
        let mut a2 = a.clone();
        let bad = Patchset {
            source: p.source,
            target: p.target,
            changes: vec![Change::Delete {
                path: "/cib/configuration/resources/primitive[@id='zz']".into(),
            }],
        };
        assert!(matches!(
            apply(&mut a2, &bad),
            Err(PatchError::NoSuchElement(_))
        ));
        assert_eq!(a2, a);
        assert!(Patchset::from_xml("<diff format=\"1\"/>").is_err());
        assert!(Patchset::from_xml("<diff").is_err());
    }
}
