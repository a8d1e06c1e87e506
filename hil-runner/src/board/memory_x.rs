//! The `MEMORY` block of a linker memory layout (`memory.x`): region names, origins and lengths.
//!
//! Reads what cortex-m-rt's `memory.x` files write: `NAME [(attrs)] : ORIGIN =
//! EXPR, LENGTH = EXPR` (also `org`/`o`, `len`/`l`), where an expression has
//! numbers (`0x0800_0000` style hex, octal, decimal, `K`/`M` suffixes), `+ - *
//! /`, parentheses and `ORIGIN(R)`/`LENGTH(R)` of an earlier region. Comments
//! are skipped; everything outside `MEMORY { ... }` (e.g. `SECTIONS`) is ignored.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// Why a memory layout cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryXError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// There is no `MEMORY { ... }` block.
    #[error("no MEMORY {{ ... }} block")]
    NoMemory,
    /// The block does not parse.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// One region of the `MEMORY` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Its name (`FLASH`, `RAM`, `BOOT2`).
    pub name: String,
    /// First address.
    pub origin: u64,
    /// Size in bytes.
    pub length: u64,
}

impl MemoryRegion {
    /// The addresses it covers.
    pub fn range(&self) -> Range<u64> {
        self.origin..self.origin.saturating_add(self.length)
    }
}

/// The regions of a `MEMORY` block, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryLayout {
    /// The regions.
    pub regions: Vec<MemoryRegion>,
}

impl MemoryLayout {
    /// Read and parse `path`.
    pub fn load(path: &Path) -> Result<Self, MemoryXError> {
        let text = std::fs::read_to_string(path).map_err(|source| MemoryXError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parse the `MEMORY` block of a linker script.
    pub fn parse(text: &str) -> Result<Self, MemoryXError> {
        let tokens = tokenize(text)?;
        let start = tokens
            .windows(2)
            .position(|w| w[0].tok == Tok::Ident("MEMORY".into()) && w[1].tok == Tok::Punct('{'))
            .ok_or(MemoryXError::NoMemory)?;
        let mut p = Parser {
            tokens: &tokens[start + 2..],
            // `MEMORY {` is there: an error past the last token names the last token's line.
            end_line: tokens.last().map_or(1, |t| t.line),
            pos: 0,
            regions: Vec::new(),
        };
        while !p.eat('}') {
            p.region()?;
        }
        Ok(Self { regions: p.regions })
    }

    /// The region called `name`.
    pub fn region(&self, name: &str) -> Option<&MemoryRegion> {
        self.regions.iter().find(|r| r.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Number(u64),
    Punct(char),
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

fn syntax(line: usize, message: impl Into<String>) -> MemoryXError {
    MemoryXError::Syntax {
        line,
        message: message.into(),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, MemoryXError> {
    let bytes = text.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("/*") {
            let end = text[i + 2..]
                .find("*/")
                .ok_or_else(|| syntax(line, "unterminated comment"))?;
            line += text[i..i + 2 + end].matches('\n').count();
            i += end + 4;
        } else if text[i..].starts_with("//") {
            i += text[i..].find('\n').unwrap_or(text.len() - i);
        } else if c.is_ascii_digit() {
            let len = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            let word = &text[i..i + len];
            out.push(Token {
                tok: Tok::Number(
                    number(word).ok_or_else(|| syntax(line, format!("bad number {word:?}")))?,
                ),
                line,
            });
            i += len;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'.' {
            let len = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$'))
                .count();
            out.push(Token {
                tok: Tok::Ident(text[i..i + len].to_owned()),
                line,
            });
            i += len;
        } else {
            // A whole character: `i` stays on a character boundary (non-ASCII text is a token too).
            let ch = text[i..]
                .chars()
                .next()
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            out.push(Token {
                tok: Tok::Punct(ch),
                line,
            });
            i += ch.len_utf8();
        }
    }
    Ok(out)
}

/// `0x1000`, `0100` (octal), `256K`, `1M`, `64k`, with `_` separators.
fn number(word: &str) -> Option<u64> {
    let word = word.replace('_', "");
    let (digits, scale) = match word.as_bytes().last()? {
        b'K' | b'k' => (&word[..word.len() - 1], 1024),
        b'M' | b'm' => (&word[..word.len() - 1], 1024 * 1024),
        _ => (word.as_str(), 1),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    value.checked_mul(scale)
}

struct Parser<'a> {
    tokens: &'a [Token],
    /// The line of the text's last token.
    end_line: usize,
    pos: usize,
    regions: Vec<MemoryRegion>,
}

impl Parser<'_> {
    fn line(&self) -> usize {
        self.tokens
            .get(self.pos)
            .or(self.tokens.last())
            .map_or(self.end_line, |t| t.line)
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(&Tok::Punct(c));
        self.pos += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: char) -> Result<(), MemoryXError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(syntax(self.line(), format!("expected `{c}`")))
        }
    }

    fn ident(&mut self) -> Result<String, MemoryXError> {
        match self.peek() {
            Some(Tok::Ident(name)) => {
                let name = name.clone();
                self.pos += 1;
                Ok(name)
            }
            None => Err(syntax(self.line(), "MEMORY block is not closed with `}`")),
            Some(other) => Err(syntax(
                self.line(),
                format!("expected a name, found {other:?}"),
            )),
        }
    }

    fn region(&mut self) -> Result<(), MemoryXError> {
        let name = self.ident()?;
        if self.eat('(') {
            while !self.eat(')') {
                self.ident()?;
            }
        }
        self.expect(':')?;
        let origin = self.keyword_value(&["ORIGIN", "org", "o"])?;
        self.eat(',');
        let length = self.keyword_value(&["LENGTH", "len", "l"])?;
        self.eat(',');
        self.regions.push(MemoryRegion {
            name,
            origin,
            length,
        });
        Ok(())
    }

    fn keyword_value(&mut self, names: &[&str]) -> Result<u64, MemoryXError> {
        let line = self.line();
        let key = self.ident()?;
        if !names.contains(&key.as_str()) {
            return Err(syntax(
                line,
                format!("expected {}, found {key:?}", names[0]),
            ));
        }
        self.expect('=')?;
        self.expr()
    }

    fn expr(&mut self) -> Result<u64, MemoryXError> {
        let mut value = self.term()?;
        loop {
            if self.eat('+') {
                value = value.wrapping_add(self.term()?);
            } else if self.eat('-') {
                value = value.wrapping_sub(self.term()?);
            } else {
                return Ok(value);
            }
        }
    }

    fn term(&mut self) -> Result<u64, MemoryXError> {
        let mut value = self.primary()?;
        loop {
            if self.eat('*') {
                value = value.wrapping_mul(self.primary()?);
            } else if self.eat('/') {
                let line = self.line();
                value = value
                    .checked_div(self.primary()?)
                    .ok_or_else(|| syntax(line, "division by zero"))?;
            } else {
                return Ok(value);
            }
        }
    }

    fn primary(&mut self) -> Result<u64, MemoryXError> {
        let line = self.line();
        match self.peek().cloned() {
            Some(Tok::Number(n)) => {
                self.pos += 1;
                Ok(n)
            }
            Some(Tok::Punct('(')) => {
                self.pos += 1;
                let value = self.expr()?;
                self.expect(')')?;
                Ok(value)
            }
            Some(Tok::Ident(f)) if f == "ORIGIN" || f == "LENGTH" => {
                self.pos += 1;
                self.expect('(')?;
                let name = self.ident()?;
                self.expect(')')?;
                let region = self
                    .regions
                    .iter()
                    .find(|r| r.name == name)
                    .ok_or_else(|| {
                        syntax(line, format!("{f}({name}): no earlier region {name}"))
                    })?;
                Ok(if f == "ORIGIN" {
                    region.origin
                } else {
                    region.length
                })
            }
            other => Err(syntax(line, format!("expected a number, found {other:?}"))),
        }
    }
}
