//! libtest's command-line arguments, as `cargo test -- ARGS` (and rust-analyzer's "Run Test") pass them to a runner.
//!
//! `NAME` filters (substring, or whole name with `--exact`), `--skip NAME`,
//! `--ignored`, `--include-ignored`, `--list`, `--test-threads N`; flags
//! libtest takes that change nothing here (`--nocapture`, `--show-output`,
//! `--quiet`, `--color`, `--format`) are accepted.

/// What the user asked of the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestArgs {
    /// Run the tests whose names contain one of these (all, when empty).
    pub filters: Vec<String>,
    /// Filters and skips match whole names.
    pub exact: bool,
    /// Leave out the tests whose names contain one of these.
    pub skip: Vec<String>,
    /// Which tests `#[ignore]` leaves out.
    pub ignored: IgnoredTests,
    /// List the tests instead of running them.
    pub list: bool,
    /// How many tests may run at once (emulated boards).
    pub test_threads: Option<usize>,
}

/// What happens to `#[ignore]`d tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IgnoredTests {
    /// Not run (reported `ignored`).
    #[default]
    Skip,
    /// Run only them (`--ignored`).
    Only,
    /// Run them with the others (`--include-ignored`).
    Include,
}

/// What the arguments do with one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Run it.
    Run,
    /// Report it as ignored.
    Ignored,
    /// Leave it out of the report (counted as filtered out).
    FilteredOut,
}

impl TestArgs {
    /// Parse the arguments after the ELF.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut parsed = Self::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("test argument {name} needs a value"))
            };
            match arg.as_str() {
                "--exact" => parsed.exact = true,
                "--ignored" => parsed.ignored = IgnoredTests::Only,
                "--include-ignored" => parsed.ignored = IgnoredTests::Include,
                "--list" => parsed.list = true,
                "--skip" => parsed.skip.push(value("--skip")?),
                "--test-threads" => {
                    let n = value("--test-threads")?;
                    parsed.test_threads =
                        Some(n.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
                            format!("--test-threads {n:?} is not a positive number")
                        })?);
                }
                "--nocapture" | "--no-capture" | "--show-output" | "-q" | "--quiet" => {}
                "--color" | "--format" | "-Z" | "--logfile" => {
                    value(arg)?;
                }
                other if other.starts_with("--test-threads=") => {
                    let n = &other["--test-threads=".len()..];
                    parsed.test_threads = n.parse().ok().filter(|&n: &usize| n > 0);
                    if parsed.test_threads.is_none() {
                        return Err(format!("--test-threads {n:?} is not a positive number"));
                    }
                }
                other if other.starts_with("--color=") || other.starts_with("--format=") => {}
                other if other.starts_with('-') => {
                    return Err(format!("unknown test argument {other:?}"));
                }
                filter => parsed.filters.push(filter.to_owned()),
            }
        }
        Ok(parsed)
    }

    /// Whether the arguments narrow the tests down (any filter or skip).
    pub fn filters_any(&self) -> bool {
        !self.filters.is_empty() || !self.skip.is_empty() || self.ignored == IgnoredTests::Only
    }

    /// What happens to the test `name` (`ignored`: it is marked `#[ignore]`).
    pub fn select(&self, name: &str, ignored: bool) -> Selection {
        let matches = |pattern: &String| {
            if self.exact {
                name == pattern
            } else {
                name.contains(pattern.as_str())
            }
        };
        let wanted = self.filters.is_empty() || self.filters.iter().any(matches);
        if !wanted || self.skip.iter().any(matches) {
            return Selection::FilteredOut;
        }
        match (self.ignored, ignored) {
            (IgnoredTests::Only, false) => Selection::FilteredOut,
            (IgnoredTests::Skip, true) => Selection::Ignored,
            _ => Selection::Run,
        }
    }
}

/// libtest's `--list` output for tests with these names.
pub fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    let mut n = 0;
    for name in names {
        out.push_str(name);
        out.push_str(": test\n");
        n += 1;
    }
    out.push_str(&format!("\n{n} tests, 0 benchmarks\n"));
    out
}

#[cfg(test)]
mod tests {
    //! libtest's argument semantics.

    use super::*;

    fn parse(list: &[&str]) -> Result<TestArgs, String> {
        TestArgs::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn args(list: &[&str]) -> TestArgs {
        parse(list).unwrap()
    }

    #[test]
    fn a_filter_matches_substrings_and_exact_matches_whole_names() {
        let a = args(&["pass"]);
        assert_eq!(a.select("tests::passes", false), Selection::Run);
        assert_eq!(a.select("tests::fails", false), Selection::FilteredOut);
        let a = args(&["--exact", "tests::passes"]);
        assert_eq!(a.select("tests::passes", false), Selection::Run);
        assert_eq!(a.select("tests::passes_too", false), Selection::FilteredOut);
        assert_eq!(args(&[]).select("anything", false), Selection::Run);
    }

    #[test]
    fn skip_and_ignored_flags_follow_libtest() {
        let a = args(&["--skip", "slow"]);
        assert_eq!(a.select("slow_1", false), Selection::FilteredOut);
        assert_eq!(a.select("fast", false), Selection::Run);
        assert_eq!(args(&[]).select("i", true), Selection::Ignored);
        assert_eq!(args(&["--ignored"]).select("i", true), Selection::Run);
        assert_eq!(
            args(&["--ignored"]).select("n", false),
            Selection::FilteredOut
        );
        assert_eq!(
            args(&["--include-ignored"]).select("i", true),
            Selection::Run
        );
        assert_eq!(
            args(&["--include-ignored"]).select("n", false),
            Selection::Run
        );
    }

    #[test]
    fn rust_analyzer_run_test_arguments_are_understood() {
        let a = args(&["tests::passes", "--exact", "--nocapture"]);
        assert_eq!(a.filters, ["tests::passes"]);
        assert!(a.exact && !a.list);
        assert_eq!(args(&["--test-threads", "2"]).test_threads, Some(2));
        assert_eq!(args(&["--test-threads=3"]).test_threads, Some(3));
        assert!(args(&["--list", "--format", "terse"]).list);
    }

    #[test]
    fn only_filters_skips_and_ignored_only_narrow_the_tests() {
        assert!(!args(&[]).filters_any());
        assert!(!args(&["--include-ignored", "--exact", "--list"]).filters_any());
        assert!(args(&["name"]).filters_any());
        assert!(args(&["--skip", "slow"]).filters_any());
        assert!(args(&["--ignored"]).filters_any());
    }

    #[test]
    fn cargo_tests_own_flags_with_their_values_attached_are_accepted() {
        let a = args(&["--color=always", "--format=pretty", "--test-threads=1", "t"]);
        assert_eq!((a.filters.len(), a.test_threads), (1, Some(1)));
        // A misspelt flag is not taken for either.
        assert!(parse(&["--colour=always"]).is_err());
        assert!(parse(&["--test-threads=0"]).is_err());
    }

    #[test]
    fn bad_arguments_are_named() {
        assert!(parse(&["--frobnicate"])
            .unwrap_err()
            .contains("--frobnicate"));
        assert!(parse(&["--skip"]).unwrap_err().contains("--skip"));
        assert!(parse(&["--test-threads", "0"]).is_err());
    }

    #[test]
    fn list_prints_libtests_shape() {
        assert_eq!(
            list(["a", "b"]),
            "a: test\nb: test\n\n2 tests, 0 benchmarks\n"
        );
    }
}
