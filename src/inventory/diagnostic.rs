//! Config problems as miette diagnostics, and the one renderer both the binary and the
//! bad-input corpus use (so pinned expected output is what users see).

use super::source::SourceFile;
use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, Severity, SourceCode, SourceSpan,
};
use std::fmt;

/// One problem in the configuration: what is wrong, where (file + span), and how to fix it.
#[derive(Debug, Clone)]
pub struct ConfigProblem {
    pub message: String,
    pub source: Option<NamedSource<String>>,
    pub span: Option<SourceSpan>,
    pub label: Option<String>,
    pub help: Option<String>,
    pub severity: Severity,
}

impl ConfigProblem {
    /// A problem at `span` in `file`.
    pub(crate) fn at(file: &SourceFile, span: SourceSpan, message: impl Into<String>) -> Self {
        ConfigProblem {
            message: message.into(),
            source: Some(file.named_source()),
            span: Some(span),
            label: None,
            help: None,
            severity: Severity::Error,
        }
    }

    /// A problem about a path as a whole (missing or unreadable file, incomplete stack dir).
    pub(crate) fn about_path(message: impl Into<String>) -> Self {
        ConfigProblem {
            message: message.into(),
            source: None,
            span: None,
            label: None,
            help: None,
            severity: Severity::Error,
        }
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigProblem {}

impl Diagnostic for ConfigProblem {
    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        self.source.as_ref()?;
        let label = LabeledSpan::new_with_span(self.label.clone(), span);
        Some(Box::new(std::iter::once(label)))
    }
}

/// Every problem found while loading a configuration (errors and the warnings found alongside).
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub problems: Vec<ConfigProblem>,
}

impl ConfigErrors {
    pub fn error_count(&self) -> usize {
        self.problems.iter().filter(|p| p.is_error()).count()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.error_count();
        let s = if n == 1 { "" } else { "s" };
        write!(f, "the configuration has {n} error{s}")?;
        let w = self.problems.len() - n;
        if w > 0 {
            let s = if w == 1 { "" } else { "s" };
            write!(f, " and {w} warning{s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Diagnostic for ConfigErrors {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("nothing was run; fix the problems below and try again"))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
    }
}

/// Renders a diagnostic the way phoenix prints it when stderr is not a terminal: unicode
/// glyphs, no colour, 100 columns.
pub fn render(diag: &dyn Diagnostic) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, diag).is_err() {
        // Rendering into a String only fails if a Display impl fails; fall back to the message.
        out = format!("{diag}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_and_label() {
        let f = SourceFile::new("x.json", "{\n  \"cores\": \"four\"\n}".to_string());
        let p =
            ConfigProblem::at(&f, f.value_span("/cores"), "cores must be a number").label("a string").help("write 4");
        let out = render(&p);
        assert!(out.contains("cores must be a number"), "{out}");
        assert!(out.contains("[x.json:2:12]"), "{out}");
        assert!(out.contains("a string"), "{out}");
        assert!(out.contains("help: write 4"), "{out}");
    }

    #[test]
    fn errors_render_every_problem() {
        let a = ConfigProblem::about_path("first thing");
        let b = ConfigProblem::about_path("second thing").warning();
        let e = ConfigErrors { problems: vec![a, b] };
        let out = render(&e);
        assert!(out.contains("1 error and 1 warning"), "{out}");
        assert!(out.contains("first thing") && out.contains("second thing"), "{out}");
    }
}
