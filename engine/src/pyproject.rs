//! A Python package's own test dependencies, read from its `pyproject.toml`: a PEP 735 dependency group
//! (`[dependency-groups]`, with `{include-group = "..."}` entries followed) or an optional-dependencies extra
//! (`[project.optional-dependencies]`), named in ci.toml (`[[python]] test-group` / `test-extra`); without either,
//! a dependency group called `test` if the file has one. `cargo xtask test` installs them beside the wheel.

use anyhow::{Result, anyhow, bail};
use camino::Utf8Path;
use toml::{Table, Value};

use crate::settings::PythonPackage;

/// The requirements a package's tests need, and where they came from (e.g. "the dependency group `test`").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TestDeps {
    pub requirements: Vec<String>,
    pub from: String,
}

/// The requirements the package's tests need, and where they came from (`None`: it declares none).
pub(crate) fn test_requirements(root: &Utf8Path, pkg: &PythonPackage) -> Result<Option<TestDeps>> {
    let path = root.join(&pkg.dir).join("pyproject.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && pkg.test_group.is_none() && pkg.test_extra.is_none() => {
            return Ok(None);
        }
        Err(e) => bail!("reading {path}: {e}\nfix: give {} a pyproject.toml", pkg.dist),
    };
    let doc: Table = toml::from_str(&text)
        .map_err(|e| anyhow!("{path} is not TOML ({})\nfix: correct the file", e.message().trim()))?;
    requirements_in(&doc, pkg).map_err(|e| anyhow!("{path}: {e}"))
}

/// [`test_requirements`] of a parsed `pyproject.toml`.
pub(crate) fn requirements_in(doc: &Table, pkg: &PythonPackage) -> Result<Option<TestDeps>> {
    let groups = doc.get("dependency-groups").and_then(Value::as_table);
    if let Some(extra) = &pkg.test_extra {
        let list = doc
            .get("project")
            .and_then(|p| p.get("optional-dependencies"))
            .and_then(|o| o.get(extra.as_str()))
            .ok_or_else(|| {
                anyhow!(
                    "no extra `{extra}` in [project.optional-dependencies]\nfix: add it, or correct ci.toml's \
                     test-extra for {}",
                    pkg.dist
                )
            })?;
        return Ok(Some(TestDeps {
            requirements: strings(list, &format!("optional-dependencies.{extra}"))?,
            from: format!("the extra `{extra}`"),
        }));
    }
    let name = match &pkg.test_group {
        Some(g) => g.clone(),
        None if groups.is_some_and(|g| g.contains_key("test")) => "test".to_owned(),
        None => return Ok(None),
    };
    let Some(groups) = groups else {
        bail!(
            "no [dependency-groups] table\nfix: add `[dependency-groups] {name} = [...]`, or correct ci.toml's test-group"
        );
    };
    let mut out = Vec::new();
    include(groups, &name, &mut Vec::new(), &mut out)?;
    Ok(Some(TestDeps { requirements: out, from: format!("the dependency group `{name}`") }))
}

/// The requirements of group `name`, its included groups followed (a cycle is an error, as PEP 735 says).
fn include(groups: &Table, name: &str, seen: &mut Vec<String>, out: &mut Vec<String>) -> Result<()> {
    // Group names compare normalized (PEP 735: as package names).
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    if seen.contains(&norm(name)) {
        bail!("the dependency group `{name}` includes itself\nfix: remove the cycle of include-group entries");
    }
    let Some((_, list)) = groups.iter().find(|(k, _)| norm(k) == norm(name)) else {
        bail!("no dependency group `{name}`\nfix: add it to [dependency-groups], or correct ci.toml's test-group");
    };
    let Some(items) = list.as_array() else {
        bail!("dependency-groups.{name} is not an array\nfix: a list of requirement strings and include-group tables");
    };
    seen.push(norm(name));
    for item in items {
        match item {
            Value::String(s) => out.push(s.clone()),
            Value::Table(t) => match t.get("include-group").and_then(Value::as_str) {
                Some(other) => include(groups, other, seen, out)?,
                None => bail!("dependency-groups.{name} holds a table without include-group\nfix: see PEP 735"),
            },
            _ => bail!("dependency-groups.{name} holds a {}, not a requirement\nfix: see PEP 735", item.type_str()),
        }
    }
    seen.pop();
    Ok(())
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>> {
    let items = v.as_array().ok_or_else(|| anyhow!("{what} is not an array\nfix: a list of requirement strings"))?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("{what} holds a {}, not a string\nfix: requirement strings", i.type_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(group: Option<&str>, extra: Option<&str>) -> PythonPackage {
        PythonPackage {
            dist: "fx".into(),
            module: "fx".into(),
            dir: "py".into(),
            tests: "py/tests".into(),
            test_group: group.map(Into::into),
            test_extra: extra.map(Into::into),
            interpreters: Vec::new(),
        }
    }

    #[test]
    fn groups_extras_and_their_errors() {
        let doc: Table = toml::from_str(
            r#"
[project.optional-dependencies]
tests = ["dirty-equals>=0.7"]
[dependency-groups]
lint = ["ruff"]
test = ["pytest-timeout", {include-group = "Fixtures_Base"}]
fixtures-base = ["dirty-equals", "inline-snapshot==0.13"]
loop = [{include-group = "loop"}]
bad = [1]
"#,
        )
        .unwrap();
        let d = requirements_in(&doc, &pkg(None, None)).unwrap().unwrap();
        assert_eq!(d.requirements, ["pytest-timeout", "dirty-equals", "inline-snapshot==0.13"]);
        assert_eq!(d.from, "the dependency group `test`");
        let d = requirements_in(&doc, &pkg(Some("lint"), None)).unwrap().unwrap();
        assert_eq!(d.requirements, ["ruff"]);
        let d = requirements_in(&doc, &pkg(None, Some("tests"))).unwrap().unwrap();
        assert_eq!(
            (d.requirements.as_slice(), d.from.as_str()),
            (&["dirty-equals>=0.7".to_owned()][..], "the extra `tests`")
        );
        for (p, want) in [
            (pkg(Some("loop"), None), "includes itself"),
            (pkg(Some("bad"), None), "holds a integer"),
            (pkg(Some("nope"), None), "no dependency group `nope`"),
            (pkg(None, Some("nope")), "no extra `nope`"),
        ] {
            let e = requirements_in(&doc, &p).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("\nfix: "), "{e}");
        }
        let empty: Table = toml::from_str("[project]\nname = \"x\"\n").unwrap();
        assert!(requirements_in(&empty, &pkg(None, None)).unwrap().is_none(), "nothing declared: nothing to install");
    }
}
