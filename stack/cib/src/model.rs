//! Typed CIB: configuration and status sections.
//!
//! Each type mirrors one CIB element. Reading resolves `id-ref` indirections
//! (so consumers never see them); writing produces canonical XML that reads
//! back to an equal model. Elements hasim does not interpret yet (bundles,
//! tickets, fencing topology, alerts, tags, templates) are kept verbatim as
//! [`Element`]s so nothing is lost on a round trip.

use std::collections::BTreeMap;

use crate::xml::{Element, XmlError};

/// Kinds of name/value sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    ClusterProperty,
    Meta,
    Instance,
    Utilization,
}

impl SetKind {
    fn tag(self) -> &'static str {
        match self {
            SetKind::ClusterProperty => "cluster_property_set",
            SetKind::Meta => "meta_attributes",
            SetKind::Instance => "instance_attributes",
            SetKind::Utilization => "utilization",
        }
    }

    fn from_tag(tag: &str) -> Option<SetKind> {
        Some(match tag {
            "cluster_property_set" => SetKind::ClusterProperty,
            "meta_attributes" => SetKind::Meta,
            "instance_attributes" => SetKind::Instance,
            "utilization" => SetKind::Utilization,
            _ => return None,
        })
    }
}

/// One `<nvpair>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvPair {
    pub id: Option<String>,
    pub name: String,
    pub value: Option<String>,
}

/// A set of nvpairs, optionally conditional on a rule and ranked by score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrSet {
    pub kind: SetKind,
    pub id: Option<String>,
    pub score: Option<String>,
    pub rule: Option<Rule>,
    pub nvpairs: Vec<NvPair>,
}

/// A rule (location rules, conditional attribute sets).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    pub id: Option<String>,
    pub score: Option<String>,
    pub score_attribute: Option<String>,
    pub boolean_op: Option<String>,
    pub role: Option<String>,
    pub expressions: Vec<Expression>,
}

/// A rule condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// Node attribute comparison (`<expression>`).
    Attribute {
        id: Option<String>,
        attribute: String,
        operation: String,
        value: Option<String>,
        value_type: Option<String>,
        value_source: Option<String>,
    },
    /// Date/time condition (`<date_expression>`), kept with all attributes.
    Date {
        attrs: Vec<(String, String)>,
        spec: Option<Vec<(String, String)>>,
        duration: Option<Vec<(String, String)>>,
    },
    /// Resource agent condition (`<rsc_expression>`).
    Resource { attrs: Vec<(String, String)> },
    /// Operation condition (`<op_expression>`).
    Operation { attrs: Vec<(String, String)> },
    /// Nested rule.
    Rule(Rule),
}

/// A node in the `<nodes>` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub id: String,
    pub uname: String,
    pub node_type: Option<String>,
    pub sets: Vec<AttrSet>,
}

/// A resource operation definition (`<op>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpDef {
    /// Every attribute of the `<op>` element (id, name, interval, role, timeout, on-fail, ...).
    pub attrs: Vec<(String, String)>,
    pub sets: Vec<AttrSet>,
}

impl OpDef {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn name(&self) -> &str {
        self.attr("name").unwrap_or("")
    }
}

/// What kind of resource a [`Resource`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKind {
    Primitive {
        class: Option<String>,
        provider: Option<String>,
        agent: Option<String>,
        template: Option<String>,
    },
    Group {
        children: Vec<Resource>,
    },
    /// `promotable` is true for `<master>` elements (the legacy spelling).
    Clone {
        child: Box<Resource>,
        legacy_master: bool,
    },
    /// A bundle: its container/network/storage settings stay in `raw` (the
    /// scheduler reads what it needs from there); `child` is the primitive
    /// it runs in every replica, if any.
    Bundle {
        raw: Element,
        child: Option<Box<Resource>>,
    },
}

/// A configured resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub id: String,
    /// Extra attributes on the element besides id/class/provider/type/template
    /// (e.g. `description`).
    pub extra: Vec<(String, String)>,
    pub kind: ResourceKind,
    pub sets: Vec<AttrSet>,
    pub ops: Vec<OpDef>,
}

/// A `<resource_set>` inside a constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSet {
    /// Attributes of the set (id, sequential, require-all, action, role, score, kind, ordering).
    pub attrs: Vec<(String, String)>,
    pub resources: Vec<String>,
}

impl ResourceSet {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A constraint. Attributes are kept by name because Pacemaker's constraint
/// syntax has many optional spellings (`rsc-role`, `first-action`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    Location {
        attrs: Vec<(String, String)>,
        rules: Vec<Rule>,
        sets: Vec<ResourceSet>,
    },
    Colocation {
        attrs: Vec<(String, String)>,
        sets: Vec<ResourceSet>,
    },
    Order {
        attrs: Vec<(String, String)>,
        sets: Vec<ResourceSet>,
    },
    Ticket {
        attrs: Vec<(String, String)>,
        sets: Vec<ResourceSet>,
    },
}

impl Constraint {
    pub fn attrs(&self) -> &[(String, String)] {
        match self {
            Constraint::Location { attrs, .. }
            | Constraint::Colocation { attrs, .. }
            | Constraint::Order { attrs, .. }
            | Constraint::Ticket { attrs, .. } => attrs,
        }
    }
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn sets(&self) -> &[ResourceSet] {
        match self {
            Constraint::Location { sets, .. }
            | Constraint::Colocation { sets, .. }
            | Constraint::Order { sets, .. }
            | Constraint::Ticket { sets, .. } => sets,
        }
    }
}

/// One operation history entry (`<lrm_rsc_op>`). Its attributes are
/// shared: the scheduler keeps every history it reads for the digest and
/// orphan passes, and a status section holds thousands of entries. The
/// numbers the scheduler sorts and filters by are read once, when the entry
/// is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LrmOp {
    attrs: std::sync::Arc<[(String, String)]>,
    numbers: OpNumbers,
}

/// An entry's call-id, rc-code, op-status, interval and last-rc-change (or
/// last-run), with Pacemaker's defaults for missing or unreadable values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpNumbers {
    call_id: i64,
    rc_code: i64,
    op_status: i64,
    interval_ms: i64,
    last_rc_change: i64,
}

fn int_attr(attrs: &[(String, String)], key: &str, default: i64) -> i64 {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(default)
}

impl LrmOp {
    pub fn new(attrs: std::sync::Arc<[(String, String)]>) -> LrmOp {
        let numbers = OpNumbers {
            call_id: int_attr(&attrs, "call-id", -1),
            rc_code: int_attr(&attrs, "rc-code", -1),
            op_status: int_attr(&attrs, "op-status", 0),
            interval_ms: int_attr(&attrs, "interval", 0),
            last_rc_change: int_attr(&attrs, "last-rc-change", int_attr(&attrs, "last-run", 0)),
        };
        LrmOp { attrs, numbers }
    }
    /// Every attribute, in document order.
    pub fn attrs(&self) -> &[(String, String)] {
        &self.attrs
    }
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn id(&self) -> &str {
        self.attr("id").unwrap_or("")
    }
    pub fn operation(&self) -> &str {
        self.attr("operation").unwrap_or("")
    }
    pub fn call_id(&self) -> i64 {
        self.numbers.call_id
    }
    pub fn rc_code(&self) -> i64 {
        self.numbers.rc_code
    }
    pub fn op_status(&self) -> i64 {
        self.numbers.op_status
    }
    /// Interval in milliseconds.
    pub fn interval_ms(&self) -> i64 {
        self.numbers.interval_ms
    }
    pub fn last_rc_change(&self) -> i64 {
        self.numbers.last_rc_change
    }
    /// The expected rc encoded in the transition key (`action:transition:rc:uuid`).
    pub fn target_rc(&self) -> Option<i64> {
        let key = self
            .attr("transition-key")
            .or_else(|| self.attr("transition-magic"))?;
        // transition-magic is "status:rc;key"; strip that prefix.
        let key = key.rsplit(';').next().unwrap_or(key);
        key.split(':').nth(2).and_then(|v| v.parse().ok())
    }
}

/// History of one resource on one node (`<lrm_resource>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LrmResource {
    pub attrs: Vec<(String, String)>,
    pub ops: Vec<LrmOp>,
}

impl LrmResource {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn id(&self) -> &str {
        self.attr("id").unwrap_or("")
    }
}

/// A node's status (`<node_state>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// in_ccm, crmd, join, expected, uname, id, shutdown, ...
    pub attrs: Vec<(String, String)>,
    pub transient: Vec<AttrSet>,
    /// None when the node_state has no `<lrm>` element.
    pub lrm: Option<Vec<LrmResource>>,
}

impl NodeState {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn id(&self) -> &str {
        self.attr("id").unwrap_or("")
    }
    pub fn uname(&self) -> Option<&str> {
        self.attr("uname")
    }
    /// Transient node attributes (fail counts, last failures, ...), flattened.
    pub fn transient_attributes(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for set in &self.transient {
            for nv in &set.nvpairs {
                if let Some(v) = &nv.value {
                    out.insert(nv.name.clone(), v.clone());
                }
            }
        }
        out
    }
}

/// The whole CIB.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cib {
    /// Attributes of `<cib>` (epoch, have-quorum, dc-uuid, execution-date, ...).
    pub attrs: Vec<(String, String)>,
    pub crm_config: Vec<AttrSet>,
    pub nodes: Vec<NodeConfig>,
    pub resources: Vec<Resource>,
    /// `<template>` elements kept verbatim.
    pub templates: Vec<Element>,
    pub constraints: Vec<Constraint>,
    pub rsc_defaults: Vec<AttrSet>,
    pub op_defaults: Vec<AttrSet>,
    /// Other configuration children (fencing-topology, tags, alerts, acls) verbatim.
    pub other_config: Vec<Element>,
    pub status: Vec<NodeState>,
    /// Ticket states from `<status><tickets>`: attributes of each `<ticket_state>`.
    pub tickets: Vec<Vec<(String, String)>>,
}

impl Cib {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Parse a CIB document, refusing what Pacemaker's schema validation
    /// refuses (see [`crate::validate`]).
    pub fn from_xml(text: &str) -> Result<Cib, XmlError> {
        let root = crate::xml::parse(text)?;
        crate::validate::validate(&root)?;
        Cib::from_element(&root)
    }

    /// Build the model from an already parsed element tree.
    pub fn from_element(root: &Element) -> Result<Cib, XmlError> {
        if root.name != "cib" {
            return Err(root.error(format!(
                "expected <cib> root element, found <{}>",
                root.name
            )));
        }
        let mut ids = BTreeMap::new();
        index_ids(root, &mut ids);
        let r = Reader { ids };
        let mut cib = Cib {
            attrs: root.attrs.clone(),
            ..Default::default()
        };
        let config = root
            .child("configuration")
            .ok_or_else(|| root.error("<cib> needs a <configuration> element"))?;
        for section in &config.children {
            match section.name.as_str() {
                "crm_config" => cib.crm_config = r.sets(section)?,
                "nodes" => {
                    for n in section.children_named("node") {
                        cib.nodes.push(NodeConfig {
                            id: n.required("id")?.to_string(),
                            uname: n
                                .attr("uname")
                                .or(n.attr("id"))
                                .unwrap_or_default()
                                .to_string(),
                            node_type: n.attr("type").map(str::to_string),
                            sets: r.sets(n)?,
                        });
                    }
                }
                "resources" => {
                    for c in &section.children {
                        if c.name == "template" {
                            cib.templates.push(c.clone());
                        } else if let Some(rsc) = r.resource(c)? {
                            cib.resources.push(rsc);
                        }
                    }
                }
                "constraints" => {
                    for c in &section.children {
                        if let Some(con) = r.constraint(c)? {
                            cib.constraints.push(con);
                        }
                    }
                }
                "rsc_defaults" => cib.rsc_defaults = r.sets(section)?,
                "op_defaults" => cib.op_defaults = r.sets(section)?,
                _ => cib.other_config.push(section.clone()),
            }
        }
        if let Some(status) = root.child("status") {
            for t in status.children_named("tickets") {
                for ts in t.children_named("ticket_state") {
                    cib.tickets.push(ts.attrs.clone());
                }
            }
            for ns in status.children_named("node_state") {
                let mut state = NodeState {
                    attrs: ns.attrs.clone(),
                    transient: Vec::new(),
                    lrm: None,
                };
                for c in &ns.children {
                    match c.name.as_str() {
                        "transient_attributes" => state.transient.extend(r.sets(c)?),
                        "lrm" => {
                            let mut list = Vec::new();
                            for lrs in c.children_named("lrm_resources") {
                                for lr in lrs.children_named("lrm_resource") {
                                    lr.required("id")?;
                                    list.push(LrmResource {
                                        attrs: lr.attrs.clone(),
                                        ops: lr
                                            .children_named("lrm_rsc_op")
                                            .map(|o| LrmOp::new(o.attrs.clone().into()))
                                            .collect(),
                                    });
                                }
                            }
                            state.lrm = Some(list);
                        }
                        _ => {}
                    }
                }
                cib.status.push(state);
            }
        }
        Ok(cib)
    }

    /// Serialise back to CIB XML.
    pub fn to_element(&self) -> Element {
        let mut root = Element::new("cib");
        root.attrs = self.attrs.clone();
        let mut config = Element::new("configuration");
        let mut crm = Element::new("crm_config");
        crm.children = self.crm_config.iter().map(write_set).collect();
        config.children.push(crm);
        let mut nodes = Element::new("nodes");
        for n in &self.nodes {
            let mut el = Element::new("node")
                .with_attr("id", Some(&n.id))
                .with_attr("uname", Some(&n.uname))
                .with_attr("type", n.node_type.as_deref());
            el.children = n.sets.iter().map(write_set).collect();
            nodes.children.push(el);
        }
        config.children.push(nodes);
        let mut resources = Element::new("resources");
        resources.children.extend(self.templates.iter().cloned());
        resources
            .children
            .extend(self.resources.iter().map(write_resource));
        config.children.push(resources);
        let mut constraints = Element::new("constraints");
        constraints.children = self.constraints.iter().map(write_constraint).collect();
        config.children.push(constraints);
        if !self.rsc_defaults.is_empty() {
            let mut el = Element::new("rsc_defaults");
            el.children = self.rsc_defaults.iter().map(write_set).collect();
            config.children.push(el);
        }
        if !self.op_defaults.is_empty() {
            let mut el = Element::new("op_defaults");
            el.children = self.op_defaults.iter().map(write_set).collect();
            config.children.push(el);
        }
        config.children.extend(self.other_config.iter().cloned());
        root.children.push(config);
        let mut status = Element::new("status");
        for ns in &self.status {
            let mut el = Element::new("node_state");
            el.attrs = ns.attrs.clone();
            if !ns.transient.is_empty() {
                let mut t = Element::new("transient_attributes").with_attr("id", Some(ns.id()));
                t.children = ns.transient.iter().map(write_set).collect();
                el.children.push(t);
            }
            if let Some(lrm) = &ns.lrm {
                let mut l = Element::new("lrm").with_attr("id", Some(ns.id()));
                let mut lrs = Element::new("lrm_resources");
                for lr in lrm {
                    let mut e = Element::new("lrm_resource");
                    e.attrs = lr.attrs.clone();
                    for op in &lr.ops {
                        let mut o = Element::new("lrm_rsc_op");
                        o.attrs = op.attrs.to_vec();
                        e.children.push(o);
                    }
                    lrs.children.push(e);
                }
                l.children.push(lrs);
                el.children.push(l);
            }
            status.children.push(el);
        }
        if !self.tickets.is_empty() {
            let mut t = Element::new("tickets");
            for attrs in &self.tickets {
                let mut ts = Element::new("ticket_state");
                ts.attrs = attrs.clone();
                t.children.push(ts);
            }
            status.children.push(t);
        }
        root.children.push(status);
        root
    }

    pub fn to_xml(&self) -> String {
        self.to_element().to_xml_string()
    }

    /// All primitives, depth-first in configuration order.
    pub fn primitives(&self) -> Vec<&Resource> {
        fn walk<'a>(r: &'a Resource, out: &mut Vec<&'a Resource>) {
            match &r.kind {
                ResourceKind::Primitive { .. } => out.push(r),
                ResourceKind::Group { children } => children.iter().for_each(|c| walk(c, out)),
                ResourceKind::Clone { child, .. } => walk(child, out),
                ResourceKind::Bundle { .. } => {}
            }
        }
        let mut out = Vec::new();
        self.resources.iter().for_each(|r| walk(r, &mut out));
        out
    }
}

/// Index every element with an `id` (first occurrence wins), in document
/// order, walking with an explicit stack.
fn index_ids<'a>(root: &'a Element, ids: &mut BTreeMap<String, &'a Element>) {
    let mut todo = vec![root];
    while let Some(el) = todo.pop() {
        if let Some(id) = el.attr("id") {
            ids.entry(id.to_string()).or_insert(el);
        }
        todo.extend(el.children.iter().rev());
    }
}

/// Reading context: the id index used to resolve `id-ref`.
struct Reader<'a> {
    ids: BTreeMap<String, &'a Element>,
}

impl<'a> Reader<'a> {
    /// Follow an `id-ref` to the referenced element (same tag expected).
    fn deref(&self, el: &'a Element) -> Result<&'a Element, XmlError> {
        match el.attr("id-ref") {
            None => Ok(el),
            Some(target) => match self.ids.get(target) {
                Some(found) if found.attr("id-ref").is_none() => Ok(found),
                _ => Err(el.error(format!("id-ref '{target}' does not name an element"))),
            },
        }
    }

    fn sets(&self, parent: &'a Element) -> Result<Vec<AttrSet>, XmlError> {
        let mut out = Vec::new();
        for c in &parent.children {
            if let Some(kind) = SetKind::from_tag(&c.name) {
                let set = self.deref(c)?;
                let mut rule = None;
                let mut nvpairs = Vec::new();
                for item in &set.children {
                    match item.name.as_str() {
                        "nvpair" => {
                            let nv = self.deref(item)?;
                            nvpairs.push(NvPair {
                                id: nv.attr("id").map(str::to_string),
                                name: nv.required("name")?.to_string(),
                                value: nv.attr("value").map(str::to_string),
                            });
                        }
                        "rule" => rule = Some(self.rule(item)?),
                        _ => {}
                    }
                }
                out.push(AttrSet {
                    kind,
                    id: set.attr("id").map(str::to_string),
                    score: set.attr("score").map(str::to_string),
                    rule,
                    nvpairs,
                });
            }
        }
        Ok(out)
    }

    fn rule(&self, el: &'a Element) -> Result<Rule, XmlError> {
        let el = self.deref(el)?;
        let mut rule = Rule {
            id: el.attr("id").map(str::to_string),
            score: el.attr("score").map(str::to_string),
            score_attribute: el.attr("score-attribute").map(str::to_string),
            boolean_op: el.attr("boolean-op").map(str::to_string),
            role: el.attr("role").map(str::to_string),
            expressions: Vec::new(),
        };
        for c in &el.children {
            let expr = match c.name.as_str() {
                "expression" => {
                    let c = self.deref(c)?;
                    Expression::Attribute {
                        id: c.attr("id").map(str::to_string),
                        attribute: c.required("attribute")?.to_string(),
                        operation: c.required("operation")?.to_string(),
                        value: c.attr("value").map(str::to_string),
                        value_type: c.attr("type").map(str::to_string),
                        value_source: c.attr("value-source").map(str::to_string),
                    }
                }
                "date_expression" => Expression::Date {
                    attrs: c.attrs.clone(),
                    spec: c.child("date_spec").map(|s| s.attrs.clone()),
                    duration: c.child("duration").map(|s| s.attrs.clone()),
                },
                "rsc_expression" => Expression::Resource {
                    attrs: c.attrs.clone(),
                },
                "op_expression" => Expression::Operation {
                    attrs: c.attrs.clone(),
                },
                "rule" => Expression::Rule(self.rule(c)?),
                _ => continue,
            };
            rule.expressions.push(expr);
        }
        Ok(rule)
    }

    fn resource(&self, el: &'a Element) -> Result<Option<Resource>, XmlError> {
        let kind = match el.name.as_str() {
            "primitive" => ResourceKind::Primitive {
                class: el.attr("class").map(str::to_string),
                provider: el.attr("provider").map(str::to_string),
                agent: el.attr("type").map(str::to_string),
                template: el.attr("template").map(str::to_string),
            },
            "group" => {
                let mut children = Vec::new();
                for c in &el.children {
                    if let Some(r) = self.resource(c)? {
                        children.push(r);
                    }
                }
                ResourceKind::Group { children }
            }
            "clone" | "master" => {
                let mut child = None;
                for c in &el.children {
                    if let Some(r) = self.resource(c)? {
                        child = Some(r);
                        break;
                    }
                }
                let child = child
                    .ok_or_else(|| el.error(format!("<{}> needs a child resource", el.name)))?;
                ResourceKind::Clone {
                    child: Box::new(child),
                    legacy_master: el.name == "master",
                }
            }
            "bundle" => {
                let mut child = None;
                for c in el.children_named("primitive") {
                    if let Some(r) = self.resource(c)? {
                        child = Some(Box::new(r));
                        break;
                    }
                }
                ResourceKind::Bundle {
                    raw: el.clone(),
                    child,
                }
            }
            _ => return Ok(None),
        };
        let id = el.required("id")?.to_string();
        let extra = el
            .attrs
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "id" | "class" | "provider" | "type" | "template"
                )
            })
            .cloned()
            .collect();
        let mut ops = Vec::new();
        if let Some(list) = el.child("operations") {
            let list = self.deref(list)?;
            for op in list.children_named("op") {
                let op = self.deref(op)?;
                ops.push(OpDef {
                    attrs: op.attrs.clone(),
                    sets: self.sets(op)?,
                });
            }
        }
        Ok(Some(Resource {
            id,
            extra,
            kind,
            sets: self.sets(el)?,
            ops,
        }))
    }

    fn resource_sets(&self, el: &'a Element) -> Result<Vec<ResourceSet>, XmlError> {
        let mut out = Vec::new();
        for s in el.children_named("resource_set") {
            let s = self.deref(s)?;
            let mut resources = Vec::new();
            for r in s.children_named("resource_ref") {
                resources.push(r.required("id")?.to_string());
            }
            out.push(ResourceSet {
                attrs: s.attrs.clone(),
                resources,
            });
        }
        Ok(out)
    }

    fn constraint(&self, el: &'a Element) -> Result<Option<Constraint>, XmlError> {
        let attrs = el.attrs.clone();
        let sets = self.resource_sets(el)?;
        Ok(Some(match el.name.as_str() {
            "rsc_location" => {
                let mut rules = Vec::new();
                for r in el.children_named("rule") {
                    rules.push(self.rule(r)?);
                }
                Constraint::Location { attrs, rules, sets }
            }
            "rsc_colocation" => Constraint::Colocation { attrs, sets },
            "rsc_order" => Constraint::Order { attrs, sets },
            "rsc_ticket" => Constraint::Ticket { attrs, sets },
            _ => return Ok(None),
        }))
    }
}

fn write_set(set: &AttrSet) -> Element {
    let mut el = Element::new(set.kind.tag())
        .with_attr("id", set.id.as_deref())
        .with_attr("score", set.score.as_deref());
    if let Some(rule) = &set.rule {
        el.children.push(write_rule(rule));
    }
    for nv in &set.nvpairs {
        el.children.push(
            Element::new("nvpair")
                .with_attr("id", nv.id.as_deref())
                .with_attr("name", Some(&nv.name))
                .with_attr("value", nv.value.as_deref()),
        );
    }
    el
}

fn write_rule(rule: &Rule) -> Element {
    let mut el = Element::new("rule")
        .with_attr("id", rule.id.as_deref())
        .with_attr("score", rule.score.as_deref())
        .with_attr("score-attribute", rule.score_attribute.as_deref())
        .with_attr("boolean-op", rule.boolean_op.as_deref())
        .with_attr("role", rule.role.as_deref());
    for e in &rule.expressions {
        let child = match e {
            Expression::Attribute {
                id,
                attribute,
                operation,
                value,
                value_type,
                value_source,
            } => Element::new("expression")
                .with_attr("id", id.as_deref())
                .with_attr("attribute", Some(attribute))
                .with_attr("operation", Some(operation))
                .with_attr("value", value.as_deref())
                .with_attr("type", value_type.as_deref())
                .with_attr("value-source", value_source.as_deref()),
            Expression::Date {
                attrs,
                spec,
                duration,
            } => {
                let mut d = Element::new("date_expression");
                d.attrs = attrs.clone();
                if let Some(s) = spec {
                    let mut s2 = Element::new("date_spec");
                    s2.attrs = s.clone();
                    d.children.push(s2);
                }
                if let Some(s) = duration {
                    let mut s2 = Element::new("duration");
                    s2.attrs = s.clone();
                    d.children.push(s2);
                }
                d
            }
            Expression::Resource { attrs } => {
                let mut d = Element::new("rsc_expression");
                d.attrs = attrs.clone();
                d
            }
            Expression::Operation { attrs } => {
                let mut d = Element::new("op_expression");
                d.attrs = attrs.clone();
                d
            }
            Expression::Rule(r) => write_rule(r),
        };
        el.children.push(child);
    }
    el
}

fn write_resource(rsc: &Resource) -> Element {
    let mut el = match &rsc.kind {
        ResourceKind::Primitive {
            class,
            provider,
            agent,
            template,
        } => Element::new("primitive")
            .with_attr("id", Some(&rsc.id))
            .with_attr("class", class.as_deref())
            .with_attr("provider", provider.as_deref())
            .with_attr("type", agent.as_deref())
            .with_attr("template", template.as_deref()),
        ResourceKind::Group { .. } => Element::new("group").with_attr("id", Some(&rsc.id)),
        ResourceKind::Clone { legacy_master, .. } => {
            Element::new(if *legacy_master { "master" } else { "clone" })
                .with_attr("id", Some(&rsc.id))
        }
        ResourceKind::Bundle { raw, .. } => return raw.clone(),
    };
    el.attrs.extend(rsc.extra.iter().cloned());
    el.children.extend(rsc.sets.iter().map(write_set));
    if !rsc.ops.is_empty() {
        let mut ops = Element::new("operations");
        for op in &rsc.ops {
            let mut o = Element::new("op");
            o.attrs = op.attrs.clone();
            o.children = op.sets.iter().map(write_set).collect();
            ops.children.push(o);
        }
        el.children.push(ops);
    }
    match &rsc.kind {
        ResourceKind::Group { children } => el.children.extend(children.iter().map(write_resource)),
        ResourceKind::Clone { child, .. } => el.children.push(write_resource(child)),
        _ => {}
    }
    el
}

fn write_constraint(c: &Constraint) -> Element {
    let tag = match c {
        Constraint::Location { .. } => "rsc_location",
        Constraint::Colocation { .. } => "rsc_colocation",
        Constraint::Order { .. } => "rsc_order",
        Constraint::Ticket { .. } => "rsc_ticket",
    };
    let mut el = Element::new(tag);
    el.attrs = c.attrs().to_vec();
    if let Constraint::Location { rules, .. } = c {
        el.children.extend(rules.iter().map(write_rule));
    }
    for s in c.sets() {
        let mut se = Element::new("resource_set");
        se.attrs = s.attrs.clone();
        for r in &s.resources {
            se.children
                .push(Element::new("resource_ref").with_attr("id", Some(r)));
        }
        el.children.push(se);
    }
    el
}
