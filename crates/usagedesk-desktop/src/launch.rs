//! How the app was started: `usagedesk [--demo] [--data-dir DIR] [FILE…]`. The same parser
//! reads a second launch's arguments, which the running app receives with that launch's
//! working directory (the shell hands them over; see `opened` for the files).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What `usagedesk --help` prints.
pub const USAGE: &str = "\
usage: usagedesk [--demo] [--data-dir DIR] [FILE...]

  FILE            an exchange file to open: a usage data file (.usagedesk-usage) opens the
                  import preview; a sync key or verification key is explained
  --demo          open straight into the embedded demo (no account needed)
  --data-dir DIR  keep the cache in DIR instead of the OS data folder; such a window runs on
                  its own, beside any other UsageDesk window
  --help          show this text

Environment: USAGEDESK_DEMO=1 is --demo, USAGEDESK_DATA_DIR=DIR is --data-dir DIR.";

/// The parsed command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchArgs {
    pub demo: bool,
    /// An explicit cache folder (absolute); `None`: the OS data folder.
    pub data_dir: Option<PathBuf>,
    pub help: bool,
    /// Files to open, absolute: relative ones are taken from the launch's working directory.
    pub files: Vec<PathBuf>,
    /// Options this build does not know (macOS once passed `-psn_…`), ignored.
    pub ignored: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("--data-dir needs a folder: usagedesk --data-dir DIR")]
    MissingDataDir,
}

impl LaunchArgs {
    /// Parses `argv` as the OS passed it (the program first). Everything after `--` is a file.
    pub fn parse<I, S>(argv: I, cwd: &Path) -> Result<Self, ArgsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut args = Self::default();
        let mut it = argv.into_iter().map(Into::into).skip(1);
        let mut only_files = false;
        while let Some(arg) = it.next() {
            let text = arg.to_string_lossy();
            if only_files || !text.starts_with('-') || text == "-" {
                args.files.push(cwd.join(&arg));
                continue;
            }
            match text.as_ref() {
                "--" => only_files = true,
                "--demo" => args.demo = true,
                "--help" | "-h" => args.help = true,
                "--data-dir" => {
                    let dir = it.next().ok_or(ArgsError::MissingDataDir)?;
                    args.data_dir = Some(cwd.join(dir));
                }
                other => match other.strip_prefix("--data-dir=") {
                    Some("") => return Err(ArgsError::MissingDataDir),
                    Some(dir) => args.data_dir = Some(cwd.join(dir)),
                    None => args.ignored.push(other.to_owned()),
                },
            }
        }
        Ok(args)
    }

    /// This process's arguments, with `USAGEDESK_DEMO` and `USAGEDESK_DATA_DIR` as defaults.
    pub fn from_process() -> Result<Self, ArgsError> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let mut args = Self::parse(std::env::args_os(), &cwd)?;
        args.demo |= std::env::var_os("USAGEDESK_DEMO").is_some_and(|v| !v.is_empty());
        if args.data_dir.is_none() {
            args.data_dir = std::env::var_os("USAGEDESK_DATA_DIR")
                .filter(|v| !v.is_empty())
                .map(|d| cwd.join(d));
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<LaunchArgs, ArgsError> {
        let argv = std::iter::once("usagedesk").chain(args.iter().copied());
        LaunchArgs::parse(argv, Path::new("/home/me/mail"))
    }

    #[test]
    fn flags_and_files_in_any_order() {
        let a = parse(&["inst.usagedesk-usage", "--demo", "/tmp/k.usagedesk-synckey"]).unwrap();
        assert!(a.demo);
        assert_eq!(a.data_dir, None);
        assert_eq!(
            a.files,
            [
                PathBuf::from("/home/me/mail/inst.usagedesk-usage"),
                PathBuf::from("/tmp/k.usagedesk-synckey")
            ],
            "a relative file is taken from the launch's working directory"
        );
    }

    #[test]
    fn the_data_folder_in_both_spellings() {
        let a = parse(&["--data-dir", "cache"]).unwrap();
        assert_eq!(a.data_dir, Some(PathBuf::from("/home/me/mail/cache")));
        let b = parse(&["--data-dir=/srv/ud"]).unwrap();
        assert_eq!(b.data_dir, Some(PathBuf::from("/srv/ud")));
        assert!(b.files.is_empty());
        assert_eq!(parse(&["--data-dir"]), Err(ArgsError::MissingDataDir));
        assert_eq!(parse(&["--data-dir="]), Err(ArgsError::MissingDataDir));
    }

    #[test]
    fn unknown_options_are_ignored_and_dashes_end_them() {
        let a = parse(&["-psn_0_1234", "--", "--demo", "-odd name"]).unwrap();
        assert!(!a.demo, "after --, --demo is a file name");
        assert_eq!(a.ignored, ["-psn_0_1234"]);
        assert_eq!(
            a.files,
            [
                PathBuf::from("/home/me/mail/--demo"),
                PathBuf::from("/home/me/mail/-odd name")
            ]
        );
        assert!(parse(&["-h"]).unwrap().help);
    }

    #[test]
    fn no_arguments_no_files() {
        assert_eq!(parse(&[]).unwrap(), LaunchArgs::default());
    }
}
