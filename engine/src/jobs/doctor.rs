//! `cargo xtask doctor`: one table of every external tool, the wasm toolchain, and every setting of the
//! repository's `ci.toml` with where it came from (a line of the file, the documented default, or an
//! environment variable that overrides it).

use anyhow::Result;
use serde_json::json;

use crate::{Ctx, config, wasm};

pub(crate) fn run(ctx: &Ctx, provision: bool, only: &[String]) -> Result<()> {
    if let Some(unknown) = only.iter().find(|n| !config::TOOLS.iter().any(|t| t.name == n.as_str())) {
        let known: Vec<&str> = config::TOOLS.iter().map(|t| t.name).collect();
        anyhow::bail!("no tool `{}`\nfix: name one of {}", crate::plan::printable(unknown), known.join(", "));
    }
    let selected: Vec<&config::Tool> =
        config::TOOLS.iter().filter(|t| only.is_empty() || only.iter().any(|n| n == t.name)).collect();
    if provision {
        crate::bootstrap::ensure(ctx)?;
        let names: Vec<&str> = selected.iter().map(|t| t.name).collect();
        // Provisioning failures of some tools are reported in the table below, not fatal here.
        if let Err(e) = ctx.tools.ensure(&ctx.sh, &names) {
            eprintln!("{e:#}");
        }
        if let Err(e) = ctx.tools.ensure_python_packages(&ctx.sh, config::TEST_SERVERS) {
            eprintln!("{e:#}");
        }
    }
    let names: Vec<&str> = selected.iter().map(|t| t.name).collect();
    ctx.tools.probe_all(&names);
    let rows = selected.iter().map(|tool| row(ctx, tool)).collect::<Result<Vec<Row>>>()?;
    let wasm = wasm::detect(&ctx.sh);
    let settings = settings_rows(ctx.settings);
    if ctx.global.json {
        print_json(ctx, &rows, &wasm, &settings)?;
    } else {
        print_text(ctx, &rows, &wasm, &settings);
    }
    let broken = rows.iter().zip(&selected).any(|(r, t)| r[4] != "ok" && !r[4].starts_with("not used") && !t.optional);
    if broken && !ctx.global.json {
        println!("\nSome tools are not ready: `cargo xtask doctor --provision` installs the provisionable ones;");
        println!("jobs also provision what they need when they start (unless --offline).");
    }
    Ok(())
}

/// A tool's row: name, pin, version found, path, status, fix.
type Row = [String; 6];

fn row(ctx: &Ctx, tool: &'static config::Tool) -> Result<Row> {
    // A tool pinned to a Cargo.lock package this workspace does not use is not needed here.
    if let config::Pin::CargoLock(pkg) = tool.pin
        && ctx.tools.wanted(tool).is_err()
    {
        let why = if ctx.root.join("Cargo.lock").is_file() {
            format!("Cargo.lock has no {pkg}")
        } else {
            "no Cargo.lock".to_owned()
        };
        return Ok([
            tool.name.to_owned(),
            format!("Cargo.lock {pkg}"),
            "-".into(),
            "-".into(),
            format!("not used here ({why})"),
            String::new(),
        ]);
    }
    let p = ctx.tools.probe(&ctx.sh, tool)?;
    let pin = match tool.pin {
        _ if ctx.tools.repository_pin(tool.name).is_some() => format!("{} (ci.toml [lint])", p.wanted),
        config::Pin::Exact(_) => p.wanted.clone(),
        config::Pin::AtLeast(_) => format!(">={}", p.wanted),
        config::Pin::CargoLock(pkg) => format!("{} (Cargo.lock {pkg})", p.wanted),
    };
    let status = match (p.ok, tool.optional) {
        (false, true) => format!("{} (optional)", p.status()),
        _ => p.status().to_owned(),
    };
    let fix = if p.ok { String::new() } else { ctx.tools.fix_command(tool, &p.wanted) };
    Ok([
        tool.name.to_owned(),
        pin,
        p.found.clone().unwrap_or_else(|| "-".into()),
        p.path.as_ref().map_or_else(|| "-".into(), |p| p.to_string()),
        status,
        fix,
    ])
}

fn print_json(
    ctx: &Ctx,
    rows: &[Row],
    wasm: &Result<wasm::Toolchain>,
    settings: &[(String, String, String)],
) -> Result<()> {
    let tools: Vec<_> = rows
        .iter()
        .map(|r| {
            let purpose = config::TOOLS.iter().find(|t| t.name == r[0]).map_or("", |t| t.purpose);
            json!({"tool": r[0], "purpose": purpose, "pinned": r[1], "found": r[2], "path": r[3], "status": r[4], "fix": r[5]})
        })
        .collect();
    let wasm = match &wasm {
        Ok(t) => json!({"status": "ok", "toolchain": t.describe()}),
        Err(e) => json!({"status": "missing", "fix": format!("{e:#}")}),
    };
    let settings: Vec<_> =
        settings.iter().map(|(k, v, from)| json!({"setting": k, "value": v, "from": from})).collect();
    let file = json!({"path": ctx.settings.path.as_str(), "exists": ctx.settings.source.is_some()});
    println!(
        "{}",
        serde_json::to_string_pretty(
            &json!({"tools": tools, "wasm": wasm, "settings_file": file, "settings": settings})
        )?
    );
    Ok(())
}

fn print_text(ctx: &Ctx, rows: &[Row], wasm: &Result<wasm::Toolchain>, settings: &[(String, String, String)]) {
    let header = ["tool", "pinned", "found", "path", "status", "fix"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    for r in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
    match &wasm {
        Ok(t) => println!("\nwasm32: ok, {}", t.describe()),
        Err(e) => println!("\nwasm32: missing: {e:#}"),
    }
    println!("tools directory: {} (searched before PATH)", ctx.tools.dir());
    println!(
        "tool pins: the engine's (its config.rs, engine/src/config.rs here), except the linters the repository pins in {} [lint]",
        crate::settings::FILE
    );
    if ctx.settings.source.is_none() {
        println!(
            "\nsettings: there is no {}; jobs name the section they need (CONTRIBUTING.md, \"Adopting this CI\")",
            ctx.settings.path
        );
    } else {
        println!("\nsettings ({}):", ctx.settings.path);
        let width = settings.iter().map(|(k, ..)| k.len()).max().unwrap_or(0);
        for (k, v, from) in settings {
            println!("  {k:<width$}  {}  ({from})", crate::plan::printable(v));
        }
    }
}

/// Every setting with its origin: an environment variable that overrides it, a line of ci.toml, or the default.
fn settings_rows(loaded: &crate::settings::Loaded) -> Vec<(String, String, String)> {
    crate::settings::provenance(loaded)
        .into_iter()
        .map(|(k, v, from)| {
            let env = crate::settings::ENV_OVERRIDES.iter().find(|(key, _)| *key == k).map(|(_, var)| *var);
            match env.and_then(|var| std::env::var(var).ok().filter(|v| !v.is_empty()).map(|v| (var, v))) {
                Some((var, value)) => {
                    (k, serde_json::to_string(&value).unwrap_or_default(), format!("${var}, over {from}"))
                }
                None => (k, v, from),
            }
        })
        .collect()
}
