//! `wasmroutes routes`: the route table in the order the router prefers
//! routes, or (`--match`) how one request would be routed and answered.

use std::time::Duration;

use wasmroutes::route_table::RouteTable;

/// Show the route table in precedence order, or explain which route a path gets (--match).
///
/// The table lists path, methods, limits and component of every route in
/// ROUTES_TOML in the order the router tries them: static > [name] >
/// [...name] > [[...name]], segment by segment. With --match it tells which
/// routes were considered for a request path and why each lost, the decoded
/// params, and what the method would get: the handler's answer, 405 with
/// Allow, automatic HEAD or OPTIONS, a 308 redirect, 400 or 404.
///
/// Methods come from the components themselves, so this loads the deployment
/// like `check` does (using the compile cache).
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  wasmroutes routes sample-routes/routes.toml\n  \
                        wasmroutes routes sample-routes/routes.toml --match /api/posts/42 --method POST")]
pub struct RoutesArgs {
    #[command(flatten)]
    manifest: super::load::ManifestArgs,
    /// A request path (as a client would send it, percent-encoding and all) to explain:
    /// which routes were considered, which wins and why, its params, and the answer.
    #[arg(long = "match", value_name = "PATH")]
    match_path: Option<String>,
    /// The request method for --match (any case; e.g. GET, POST, HEAD, OPTIONS).
    #[arg(long, default_value = "GET", requires = "match_path", value_parser = parse_method)]
    method: http::Method,
    #[command(flatten)]
    cache: super::load::CacheArgs,
}

fn parse_method(text: &str) -> Result<http::Method, String> {
    http::Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("`{text}` is not an HTTP method"))
}

/// Loads the deployment, then prints the table or the explanation.
pub fn run(args: RoutesArgs) -> anyhow::Result<()> {
    let cache = args.cache.cache();
    let (_, table) = super::load::load(&args.manifest.source(), cache)?;
    match args.match_path {
        Some(path) => print!("{}", super::route_match::explain(&table, &args.method, &path)),
        None => print!("{}", precedence_table(&table)),
    }
    Ok(())
}

/// One row per route, in precedence order.
fn precedence_table(table: &RouteTable) -> String {
    let rows: Vec<Vec<String>> = table
        .in_precedence_order()
        .into_iter()
        .map(|(pattern, route)| {
            let limits = *route.limits();
            vec![
                pattern.to_string(),
                route.component.methods().allowed().allow_header(),
                size(limits.memory),
                duration(limits.timeout),
                size(limits.max_body),
                limits.max_concurrency.to_string(),
                route.component.path().display().to_string(),
            ]
        })
        .collect();
    render_table(&["PATH", "METHODS", "MEMORY", "TIMEOUT", "MAX_BODY", "CONCURRENCY", "COMPONENT"], &rows)
}

/// Left-aligned columns two spaces apart; the last column is not padded.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| if i == last { c.clone() } else { format!("{c:w$}", w = widths[i]) })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Bytes in the largest binary unit that divides them: `64MiB`, `1KiB`, `100B`.
fn size(bytes: u64) -> String {
    for (unit, factor) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    format!("{bytes}B")
}

/// `10s`, `500ms`, `2m`, as `routes.toml` spells them.
fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms > 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms > 0 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_they_are_written() {
        assert_eq!(size(64 << 20), "64MiB");
        assert_eq!(size(1024), "1KiB");
        assert_eq!(size(1000), "1000B");
        assert_eq!(duration(Duration::from_secs(10)), "10s");
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn table_columns_line_up() {
        let rows = vec![vec!["/a".to_owned(), "GET".to_owned()], vec!["/long/path".to_owned(), "POST".to_owned()]];
        assert_eq!(
            render_table(&["PATH", "METHODS"], &rows),
            "PATH        METHODS\n/a          GET\n/long/path  POST\n"
        );
    }
}
