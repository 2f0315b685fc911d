//! What a test suite that needs an outside program (Chromium, PostgreSQL)
//! does where it is missing, as an environment variable says.

/// What the variable asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Unset or `auto`: run where the program is installed, else skip.
    Auto,
    /// `required`: a missing program fails the tests (CI sets this).
    Required,
    /// `skip`: never run them.
    Skip,
}

/// The mode `variable` asks for.
pub fn mode(variable: &str) -> Mode {
    match std::env::var(variable).as_deref() {
        Err(_) | Ok("") | Ok("auto") => Mode::Auto,
        Ok("required") => Mode::Required,
        Ok("skip") => Mode::Skip,
        // A typo must not quietly turn a mandatory run into a skipped one.
        Ok(other) => {
            panic!("{variable}={other:?} is not understood: use `required`, `auto` or `skip`")
        }
    }
}
