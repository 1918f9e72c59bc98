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
    /// A second place in the same file the problem is about (the first of two declarations).
    pub also: Option<(SourceSpan, String)>,
    pub help: Option<String>,
    pub severity: Severity,
}

impl ConfigProblem {
    /// A problem at `span` in `file`.
    /// A problem at `span` in `file`. When the lines around the span are too long to print
    /// (a 50 MB value) or hold characters a terminal would act on, the source shown is an
    /// excerpt of that line instead of the file (see [`super::excerpt`]).
    pub(crate) fn at(file: &SourceFile, span: SourceSpan, message: impl Into<String>) -> Self {
        let (source, span) = match super::excerpt::needed(&file.text, span) {
            Some((text, span)) => (NamedSource::new(file.name.clone(), text).with_language("json"), span),
            None => (file.named_source(), span),
        };
        ConfigProblem {
            message: message.into(),
            source: Some(source),
            span: Some(span),
            label: None,
            also: None,
            help: None,
            severity: Severity::Error,
        }
    }

    /// Also points at `span` of the same file (e.g. the first declaration of a duplicate key);
    /// dropped when the source shown is an excerpt, which holds only the main span's line.
    pub(crate) fn also_at(mut self, file: &SourceFile, span: SourceSpan, label: impl Into<String>) -> Self {
        let whole_file = self.source.as_ref().is_some_and(|s| s.inner().len() == file.text.len());
        if whole_file {
            self.also = Some((span, label.into()));
        }
        self
    }

    /// A problem about a path as a whole (missing or unreadable file, incomplete stack dir).
    pub(crate) fn about_path(message: impl Into<String>) -> Self {
        ConfigProblem {
            message: message.into(),
            source: None,
            span: None,
            label: None,
            also: None,
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
        let also = self.also.as_ref().map(|(s, l)| LabeledSpan::new_with_span(Some(l.clone()), *s));
        Some(Box::new(std::iter::once(label).chain(also)))
    }
}

/// A config value as a diagnostic may show it: control characters escaped (`\n`, `\x1b`) so
/// a value cannot act on the terminal, and cut after 60 characters with its full size, so a
/// 50 MB value is never echoed whole.
pub(crate) fn shown(value: &str) -> String {
    const SHOWN_CHARS: usize = 60;
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push_str(&format!("… ({} bytes)", value.len()));
            return out;
        }
        out.push_str(&escaped(c));
    }
    out
}

/// One character as it is safe to print: control and invisible direction-changing
/// characters as escapes, everything else as itself.
pub(crate) fn escaped(c: char) -> String {
    match c {
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        c if c.is_control() || super::rules::is_invisible_control(c) => {
            let n = u32::from(c);
            if n <= 0xff {
                format!("\\x{n:02x}")
            } else {
                format!("\\u{{{n:04x}}}")
            }
        }
        c => c.to_string(),
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
    fn shown_values_are_escaped_and_cut() {
        assert_eq!(shown("a\nb\u{1b}[31m"), "a\\nb\\x1b[31m");
        assert_eq!(shown("\u{202e}x\u{9b}"), "\\u{202e}x\\x9b");
        let long = "x".repeat(70);
        assert_eq!(shown(&long), format!("{}… (70 bytes)", "x".repeat(60)));
        assert_eq!(shown(&"é".repeat(60)), "é".repeat(60), "60 characters are shown whole");
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
