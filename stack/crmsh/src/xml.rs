//! Statements → CIB elements, with crmsh's id conventions.

use hasim_cib::Element;

use crate::lex::Statement;
use crate::CrmError;

struct Builder {
    properties: Vec<Element>,
    nodes: Vec<Element>,
    resources: Vec<Element>,
    constraints: Vec<Element>,
    rsc_defaults: Vec<Element>,
    op_defaults: Vec<Element>,
}

fn err(st: &Statement, message: impl Into<String>) -> CrmError {
    CrmError {
        line: st.line,
        message: message.into(),
    }
}

fn el(name: &str, attrs: &[(&str, &str)]) -> Element {
    let mut e = Element::new(name);
    for (k, v) in attrs {
        e.set_attr(k, v);
    }
    e
}

fn pair<'a>(st: &Statement, tok: &'a str) -> Result<(&'a str, &'a str), CrmError> {
    tok.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| err(st, format!("expected name=value, found '{tok}'")))
}

/// An nvpair set: `<TAG id=ID><nvpair id=ID-name .../>...`.
fn nv_set(st: &Statement, tag: &str, id: &str, pairs: &[String]) -> Result<Element, CrmError> {
    let mut set = el(tag, &[("id", id)]);
    for p in pairs {
        let (k, v) = pair(st, p)?;
        set.children.push(el(
            "nvpair",
            &[("id", &format!("{id}-{k}")), ("name", k), ("value", v)],
        ));
    }
    Ok(set)
}

/// Split `params a=1 meta b=2 op monitor x=y ...` into (keyword, args).
fn sections(tokens: &[String]) -> Vec<(String, Vec<String>)> {
    const KEYS: [&str; 5] = ["params", "meta", "utilization", "op", "attributes"];
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for t in tokens {
        if KEYS.contains(&t.as_str()) {
            out.push((t.clone(), Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(t.clone());
        } else {
            out.push((String::new(), vec![t.clone()]));
        }
    }
    out
}

/// `ocf:heartbeat:IPaddr2`, `systemd:haproxy`, `stonith:fence_ipmilan`.
fn agent_attrs(st: &Statement, spec: &str) -> Result<Vec<(String, String)>, CrmError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let a = |k: &str, v: &str| (k.to_string(), v.to_string());
    match parts.as_slice() {
        ["ocf", p, t] if !p.is_empty() && !t.is_empty() => {
            Ok(vec![a("class", "ocf"), a("provider", p), a("type", t)])
        }
        [c, t] if !c.is_empty() && !t.is_empty() && *c != "ocf" => {
            Ok(vec![a("class", c), a("type", t)])
        }
        _ => Err(err(
            st,
            format!("expected an agent like ocf:PROVIDER:TYPE or CLASS:TYPE, found '{spec}'"),
        )),
    }
}

/// `op NAME name=value...` with crmsh's id `RSC-NAME-INTERVAL`.
fn op_element(st: &Statement, rsc: &str, args: &[String]) -> Result<Element, CrmError> {
    let Some((name, attrs)) = args.split_first() else {
        return Err(err(st, "expected an operation name after 'op'"));
    };
    let mut op = el("op", &[("name", name)]);
    let mut interval = "0".to_string();
    for a in attrs {
        let (k, v) = pair(st, a)?;
        if k == "interval" {
            interval = v.to_string();
        }
        op.set_attr(k, v);
    }
    op.attrs
        .insert(0, ("id".into(), format!("{rsc}-{name}-{interval}")));
    if op.attr("interval").is_none() {
        op.set_attr("interval", "0");
    }
    Ok(op)
}

impl Builder {
    fn primitive(&mut self, st: &Statement) -> Result<(), CrmError> {
        let [_, id, agent, rest @ ..] = st.tokens.as_slice() else {
            return Err(err(
                st,
                "expected: primitive ID AGENT [params ...] [meta ...] [op ...]",
            ));
        };
        let mut p = el("primitive", &[("id", id)]);
        p.attrs.extend(agent_attrs(st, agent)?);
        let mut ops = Element::new("operations");
        for (key, args) in sections(rest) {
            match key.as_str() {
                "params" => p.children.push(nv_set(
                    st,
                    "instance_attributes",
                    &format!("{id}-instance_attributes"),
                    &args,
                )?),
                "meta" => p.children.push(nv_set(
                    st,
                    "meta_attributes",
                    &format!("{id}-meta_attributes"),
                    &args,
                )?),
                "utilization" => p.children.push(nv_set(
                    st,
                    "utilization",
                    &format!("{id}-utilization"),
                    &args,
                )?),
                "op" => ops.children.push(op_element(st, id, &args)?),
                other => {
                    return Err(err(
                        st,
                        format!(
                            "expected params, meta, utilization or op, found '{}'",
                            args.first().map_or(other, |a| a.as_str())
                        ),
                    ))
                }
            }
        }
        if !ops.children.is_empty() {
            p.children.push(ops);
        }
        self.resources.push(p);
        Ok(())
    }

    fn take_resource(&mut self, st: &Statement, id: &str) -> Result<Element, CrmError> {
        let i = self
            .resources
            .iter()
            .position(|r| r.attr("id") == Some(id))
            .ok_or_else(|| {
                err(
                    st,
                    format!("expected a resource defined earlier, '{id}' is not"),
                )
            })?;
        Ok(self.resources.remove(i))
    }

    /// clone / ms / group.
    fn container(&mut self, st: &Statement, tag: &str) -> Result<(), CrmError> {
        let [_, id, rest @ ..] = st.tokens.as_slice() else {
            return Err(err(
                st,
                format!("expected: {} ID CHILD... [meta ...]", st.tokens[0]),
            ));
        };
        let secs = sections(rest);
        let mut c = el(tag, &[("id", id)]);
        let mut children = Vec::new();
        for (key, args) in secs {
            match key.as_str() {
                "" => children.extend(args),
                "meta" => c.children.push(nv_set(
                    st,
                    "meta_attributes",
                    &format!("{id}-meta_attributes"),
                    &args,
                )?),
                "params" => c.children.push(nv_set(
                    st,
                    "instance_attributes",
                    &format!("{id}-instance_attributes"),
                    &args,
                )?),
                other => return Err(err(st, format!("expected meta or params, found '{other}'"))),
            }
        }
        if children.is_empty() || (tag != "group" && children.len() != 1) {
            return Err(err(
                st,
                format!(
                    "expected {} child resource(s) for {tag} '{id}'",
                    if tag == "group" {
                        "one or more"
                    } else {
                        "exactly one"
                    }
                ),
            ));
        }
        for child in children {
            let r = self.take_resource(st, &child)?;
            c.children.push(r);
        }
        self.resources.push(c);
        Ok(())
    }

    fn constraint(&mut self, st: &Statement) -> Result<(), CrmError> {
        let kind = st.tokens[0].as_str();
        let [_, id, rest @ ..] = st.tokens.as_slice() else {
            return Err(err(st, format!("expected: {kind} ID ...")));
        };
        let mut rest: Vec<String> = rest.to_vec();
        let (score, rsc_pos) = if kind == "location" {
            // location ID RSC [role=R] SCORE: NODE
            let pos = rest
                .iter()
                .skip(1)
                .position(|t| t.ends_with(':'))
                .map_or(1, |p| p + 1);
            (rest.get(pos).cloned(), pos)
        } else {
            (rest.first().cloned(), 0)
        };
        let score = score.ok_or_else(|| err(st, "expected a score like inf: or 100:"))?;
        let score = score
            .strip_suffix(':')
            .ok_or_else(|| {
                err(
                    st,
                    format!("expected a score ending in ':', found '{score}'"),
                )
            })?
            .to_string();
        rest.remove(rsc_pos);
        let score_value = match score.to_ascii_lowercase().as_str() {
            "inf" | "+inf" | "infinity" => "INFINITY".to_string(),
            "-inf" | "-infinity" => "-INFINITY".to_string(),
            _ => score.clone(),
        };
        match kind {
            "colocation" => self.colocation(st, id, &score_value, &rest),
            "order" => self.order(st, id, &score, &score_value, &rest),
            _ => self.location(st, id, &score_value, &rest),
        }
    }

    fn colocation(
        &mut self,
        st: &Statement,
        id: &str,
        score: &str,
        rest: &[String],
    ) -> Result<(), CrmError> {
        let [a, b] = rest else {
            return Err(err(
                st,
                "expected exactly two resources (resource sets are not supported yet)",
            ));
        };
        let mut c = el("rsc_colocation", &[("id", id), ("score", score)]);
        let (ra, rolea) = a
            .split_once(':')
            .map_or((a.as_str(), None), |(x, y)| (x, Some(y)));
        let (rb, roleb) = b
            .split_once(':')
            .map_or((b.as_str(), None), |(x, y)| (x, Some(y)));
        c.set_attr("rsc", ra);
        c.set_attr("with-rsc", rb);
        if let Some(r) = rolea {
            c.set_attr("rsc-role", r);
        }
        if let Some(r) = roleb {
            c.set_attr("with-rsc-role", r);
        }
        self.constraints.push(c);
        Ok(())
    }

    fn order(
        &mut self,
        st: &Statement,
        id: &str,
        raw: &str,
        score: &str,
        rest: &[String],
    ) -> Result<(), CrmError> {
        let (rscs, opts): (Vec<&String>, Vec<&String>) =
            rest.iter().partition(|t| !t.contains('='));
        let [a, b] = rscs.as_slice() else {
            return Err(err(
                st,
                "expected exactly two resources (resource sets are not supported yet)",
            ));
        };
        let mut o = el("rsc_order", &[("id", id)]);
        match raw {
            "Mandatory" | "Optional" | "Serialize" => o.set_attr("kind", raw),
            _ => o.set_attr("score", score),
        }
        let (fa, fact) = a
            .split_once(':')
            .map_or((a.as_str(), None), |(x, y)| (x, Some(y)));
        let (ta, tact) = b
            .split_once(':')
            .map_or((b.as_str(), None), |(x, y)| (x, Some(y)));
        o.set_attr("first", fa);
        o.set_attr("then", ta);
        if let Some(x) = fact {
            o.set_attr("first-action", x);
        }
        if let Some(x) = tact {
            o.set_attr("then-action", x);
        }
        for kv in opts {
            let (k, v) = pair(st, kv)?;
            o.set_attr(k, v);
        }
        self.constraints.push(o);
        Ok(())
    }

    fn location(
        &mut self,
        st: &Statement,
        id: &str,
        score: &str,
        rest: &[String],
    ) -> Result<(), CrmError> {
        let (rsc, tail) = rest
            .split_first()
            .ok_or_else(|| err(st, "expected: location ID RSC SCORE: NODE"))?;
        let mut l = el("rsc_location", &[("id", id), ("rsc", rsc)]);
        let mut node = None;
        for t in tail {
            if let Some(role) = t.strip_prefix("role=") {
                l.set_attr("role", role);
            } else if t == "rule" {
                return Err(err(
                    st,
                    "location rules are not supported yet; expected SCORE: NODE",
                ));
            } else {
                node = Some(t.clone());
            }
        }
        let node = node.ok_or_else(|| err(st, "expected a node name after the score"))?;
        l.set_attr("score", score);
        l.set_attr("node", &node);
        self.constraints.push(l);
        Ok(())
    }

    /// property / rsc_defaults / op_defaults: `[$id=ID | ID] name=value...`.
    fn options(&mut self, st: &Statement) -> Result<(), CrmError> {
        let kind = st.tokens[0].as_str();
        let (default_id, tag) = match kind {
            "property" => ("cib-bootstrap-options", "cluster_property_set"),
            "rsc_defaults" => ("rsc-options", "meta_attributes"),
            _ => ("op-options", "meta_attributes"),
        };
        let mut id = default_id.to_string();
        let mut pairs = Vec::new();
        for t in &st.tokens[1..] {
            if let Some(v) = t.strip_prefix("$id=") {
                id = v.to_string();
            } else if !t.contains('=') && pairs.is_empty() {
                id = t.trim_end_matches(':').to_string();
            } else {
                pairs.push(t.clone());
            }
        }
        let set = nv_set(st, tag, &id, &pairs)?;
        match kind {
            "property" => self.properties.push(set),
            "rsc_defaults" => self.rsc_defaults.push(set),
            _ => self.op_defaults.push(set),
        }
        Ok(())
    }

    /// `node [ID:]NAME [attributes name=value...]`.
    fn node(&mut self, st: &Statement) -> Result<(), CrmError> {
        let spec = st
            .tokens
            .get(1)
            .ok_or_else(|| err(st, "expected: node [ID:]NAME"))?;
        let (id, name) = spec
            .split_once(':')
            .map_or((spec.as_str(), spec.as_str()), |(i, n)| (i, n.trim()));
        let (id, name) = if name.is_empty() {
            let n = st
                .tokens
                .get(2)
                .ok_or_else(|| err(st, "expected a node name after the id"))?;
            (id, n.as_str())
        } else {
            (id, name)
        };
        let mut n = el("node", &[("id", id), ("uname", name)]);
        for (key, args) in sections(&st.tokens[2..]) {
            match key.as_str() {
                "attributes" => n.children.push(nv_set(
                    st,
                    "instance_attributes",
                    &format!("nodes-{id}"),
                    &args,
                )?),
                "utilization" => n.children.push(nv_set(
                    st,
                    "utilization",
                    &format!("nodes-{id}-utilization"),
                    &args,
                )?),
                "" if args.first().map(String::as_str) == Some(name) => {}
                _ => {
                    return Err(err(
                        st,
                        "expected attributes or utilization after the node name",
                    ))
                }
            }
        }
        self.nodes.push(n);
        Ok(())
    }
}

/// Build the CIB document.
pub fn build(statements: &[Statement]) -> Result<String, CrmError> {
    let mut b = Builder {
        properties: Vec::new(),
        nodes: Vec::new(),
        resources: Vec::new(),
        constraints: Vec::new(),
        rsc_defaults: Vec::new(),
        op_defaults: Vec::new(),
    };
    for st in statements {
        match st.tokens[0].as_str() {
            "primitive" => b.primitive(st)?,
            "clone" => b.container(st, "clone")?,
            "ms" | "master" => b.container(st, "master")?,
            "group" => b.container(st, "group")?,
            "colocation" | "collocation" | "order" | "location" => b.constraint(st)?,
            "property" | "rsc_defaults" | "op_defaults" => b.options(st)?,
            "node" => b.node(st)?,
            other => {
                return Err(err(
                    st,
                    format!("expected primitive, clone, ms, group, colocation, order, location, property, rsc_defaults, op_defaults or node; found '{other}'"),
                ))
            }
        }
    }
    let mut cib = el(
        "cib",
        &[
            ("admin_epoch", "0"),
            ("epoch", "1"),
            ("num_updates", "0"),
            ("validate-with", "pacemaker-3.7"),
            ("crm_feature_set", "3.16.2"),
        ],
    );
    let mut conf = Element::new("configuration");
    let section = |name: &str, children: Vec<Element>| {
        let mut e = Element::new(name);
        e.children = children;
        e
    };
    conf.children.push(section("crm_config", b.properties));
    conf.children.push(section("nodes", b.nodes));
    conf.children.push(section("resources", b.resources));
    conf.children.push(section("constraints", b.constraints));
    if !b.rsc_defaults.is_empty() {
        conf.children.push(section("rsc_defaults", b.rsc_defaults));
    }
    if !b.op_defaults.is_empty() {
        conf.children.push(section("op_defaults", b.op_defaults));
    }
    cib.children.push(conf);
    cib.children.push(Element::new("status"));
    Ok(cib.to_xml_string())
}
