//! What an update changed, recorded while it is applied.
//!
//! The CIB manager needs the CIB before an update twice: to tell whether
//! anything changed (and bump the version) and to compute the patchset it
//! multicasts. Cloning the whole CIB for that makes every update cost the
//! size of the CIB; with a thousand Pacemaker Remote nodes the status
//! section dwarfs any single operation result. Pacemaker itself tracks the
//! changes an operation makes and derives the patchset from them; here an
//! operation returns a [`Before`]: the old state of only the elements it
//! touched, sharing everything else with the updated tree. [`Old`] reads
//! that record as if it were the old tree, so the patchset diff can skip
//! the untouched subtrees (they are the same elements) and still produce
//! exactly what a diff of two whole trees would.

use hasim_cib::Element;

/// The state of one element before an update, relative to the element now
/// in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Nothing in this subtree changed.
    Same,
    /// A full copy of the old element (updates that replace whole parts).
    Whole(Element),
    /// The old attributes and child list; unchanged children are shared.
    Changed(Box<Changed>),
}

/// A changed element: its old attributes and how its children were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub attrs: Vec<(String, String)>,
    pub children: Children,
}

/// The old child list of a changed element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Children {
    /// The same children in the same order; the listed ones (by index,
    /// ascending) changed inside.
    InPlace(Vec<(usize, Before)>),
    /// The old list in order: children still present (by their index now)
    /// and children removed since.
    Listed(Vec<OldChild>),
}

/// One child of an old child list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldChild {
    Now(usize, Before),
    Removed(Element),
}

impl Before {
    pub fn is_same(&self) -> bool {
        matches!(self, Before::Same)
    }

    /// A record for `now` whose children at `changes` (index, before)
    /// changed and whose attributes did not.
    pub fn inside(now: &Element, changes: Vec<(usize, Before)>) -> Before {
        let changes: Vec<_> = changes.into_iter().filter(|(_, b)| !b.is_same()).collect();
        if changes.is_empty() {
            return Before::Same;
        }
        Before::Changed(Box::new(Changed {
            attrs: now.attrs.clone(),
            children: Children::InPlace(changes),
        }))
    }

    /// The record of `root` when only the element at index path `path`
    /// changed, as `inner` says.
    pub fn at_path(root: &Element, path: &[usize], inner: Before) -> Before {
        let Some((&first, rest)) = path.split_first() else {
            return inner;
        };
        let below = Before::at_path(&root.children[first], rest, inner);
        Before::inside(root, vec![(first, below)])
    }

    /// A full copy of `old`, or nothing when it equals `now`.
    pub fn whole(old: Element, now: &Element) -> Before {
        if old == *now {
            Before::Same
        } else {
            Before::Whole(old)
        }
    }
}

/// An element of the old tree: either one that is also in the new tree
/// (or a removed / copied one), or a changed one read through its record.
#[derive(Debug, Clone, Copy)]
pub enum Old<'a> {
    El(&'a Element),
    Was(&'a Changed, &'a Element),
}

impl<'a> Old<'a> {
    /// The old form of `now` according to `before`.
    pub fn of(before: &'a Before, now: &'a Element) -> Old<'a> {
        match before {
            Before::Same => Old::El(now),
            Before::Whole(old) => Old::El(old),
            Before::Changed(c) => Old::Was(c, now),
        }
    }

    pub fn name(&self) -> &'a str {
        match self {
            Old::El(e) | Old::Was(_, e) => &e.name,
        }
    }

    pub fn attrs(&self) -> &'a [(String, String)] {
        match self {
            Old::El(e) => &e.attrs,
            Old::Was(c, _) => &c.attrs,
        }
    }

    pub fn attr(&self, key: &str) -> Option<&'a str> {
        self.attrs()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn children(&self) -> Vec<Old<'a>> {
        match *self {
            Old::El(e) => e.children.iter().map(Old::El).collect(),
            Old::Was(c, now) => match &c.children {
                Children::InPlace(changes) => {
                    let mut out: Vec<Old<'a>> = now.children.iter().map(Old::El).collect();
                    for (i, b) in changes {
                        out[*i] = Old::of(b, &now.children[*i]);
                    }
                    out
                }
                Children::Listed(list) => list
                    .iter()
                    .map(|c| match c {
                        OldChild::Now(i, b) => Old::of(b, &now.children[*i]),
                        OldChild::Removed(e) => Old::El(e),
                    })
                    .collect(),
            },
        }
    }

    /// The first old child with this tag.
    pub fn child(&self, name: &str) -> Option<Old<'a>> {
        self.children().into_iter().find(|c| c.name() == name)
    }

    /// Whether this old element is exactly `now` (the very same element,
    /// so the subtree is unchanged).
    pub fn is(&self, now: &Element) -> bool {
        matches!(self, Old::El(e) if std::ptr::eq(*e, now))
    }

    /// Whether the old element has the same content as `new`; shared
    /// subtrees are not compared.
    pub fn same_as(&self, new: &Element) -> bool {
        match self {
            Old::El(e) => std::ptr::eq(*e, new) || **e == *new,
            Old::Was(..) => {
                let children = self.children();
                self.name() == new.name
                    && self.attrs() == new.attrs.as_slice()
                    && children.len() == new.children.len()
                    && children
                        .iter()
                        .zip(&new.children)
                        .all(|(o, n)| o.same_as(n))
            }
        }
    }

    /// A full copy of the old element.
    pub fn materialize(&self) -> Element {
        match self {
            Old::El(e) => (*e).clone(),
            Old::Was(c, now) => Element {
                name: now.name.clone(),
                attrs: c.attrs.clone(),
                children: self.children().iter().map(Old::materialize).collect(),
                line: now.line,
                column: now.column,
            },
        }
    }
}
