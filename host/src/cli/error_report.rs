//! How a failed command explains itself: the error, then each cause that
//! adds something. Library errors often carry their source in their own
//! message (`cannot read nothere.toml: No such file or directory`), so a
//! cause already spelled out in the text before it is left out instead of
//! repeated as `Caused by: No such file or directory`.

/// `error`'s message followed by its new causes, one per line.
pub fn render(error: &anyhow::Error) -> String {
    let mut report = error.to_string();
    let mut said = report.clone();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if text.is_empty() || said.contains(&text) {
            continue;
        }
        report.push_str("\n  caused by: ");
        report.push_str(&text);
        said.push('\n');
        said.push_str(&text);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}: {source}")]
    struct ReadError {
        path: &'static str,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let error = anyhow::Error::new(ReadError { path: "nothere.toml", source: io });
        assert_eq!(render(&error), "cannot read nothere.toml: No such file or directory");
    }

    #[test]
    fn causes_that_add_something_follow_one_per_line() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let error = anyhow::Error::new(io).context("cannot listen on 127.0.0.1:3000").context("serve failed");
        assert_eq!(
            render(&error),
            "serve failed\n  caused by: cannot listen on 127.0.0.1:3000\n  caused by: Address already in use"
        );
    }
}
