//! Formulas over a chart's events, as in Amplitude's `formula` parameter: `UNIQUES(A)/UNIQUES(B)`,
//! `TOTALS(A) - TOTALS(B)`, numbers, `+ - * /` and parentheses. Division by zero gives 0.

use crate::error::{QueryError, Result};

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    Number(f64),
    /// A metric of event `index` (A = 0, B = 1, …).
    Metric {
        metric: FormulaMetric,
        index: usize,
    },
    Binary(Box<Formula>, char, Box<Formula>),
    Negate(Box<Formula>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormulaMetric {
    Uniques,
    Totals,
    /// Events per unit.
    Average,
}

impl Formula {
    pub fn parse(text: &str) -> Result<Formula> {
        let tokens: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut p = Parser { tokens, at: 0, text };
        let f = p.expr()?;
        if p.at != p.tokens.len() {
            return Err(p.error("unexpected text"));
        }
        Ok(f)
    }

    /// The highest event index used.
    pub fn max_index(&self) -> usize {
        match self {
            Formula::Number(_) => 0,
            Formula::Metric { index, .. } => *index,
            Formula::Binary(a, _, b) => a.max_index().max(b.max_index()),
            Formula::Negate(a) => a.max_index(),
        }
    }

    pub fn eval(&self, value: &dyn Fn(FormulaMetric, usize) -> f64) -> f64 {
        match self {
            Formula::Number(n) => *n,
            Formula::Metric { metric, index } => value(*metric, *index),
            Formula::Negate(a) => -a.eval(value),
            Formula::Binary(a, op, b) => {
                let (a, b) = (a.eval(value), b.eval(value));
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => {
                        if b == 0.0 {
                            0.0
                        } else {
                            a / b
                        }
                    }
                }
            }
        }
    }
}

struct Parser<'a> {
    tokens: Vec<char>,
    at: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> QueryError {
        QueryError::Invalid(format!(
            "formula {:?}: {what} at character {}; write e.g. UNIQUES(A)/UNIQUES(B)",
            self.text, self.at
        ))
    }

    fn peek(&self) -> Option<char> {
        self.tokens.get(self.at).copied()
    }

    fn expr(&mut self) -> Result<Formula> {
        let mut left = self.term()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.at += 1;
            left = Formula::Binary(Box::new(left), op, Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Formula> {
        let mut left = self.factor()?;
        while let Some(op @ ('*' | '/')) = self.peek() {
            self.at += 1;
            left = Formula::Binary(Box::new(left), op, Box::new(self.factor()?));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Formula> {
        match self.peek() {
            Some('-') => {
                self.at += 1;
                Ok(Formula::Negate(Box::new(self.factor()?)))
            }
            Some('(') => {
                self.at += 1;
                let f = self.expr()?;
                if self.peek() != Some(')') {
                    return Err(self.error("missing )"));
                }
                self.at += 1;
                Ok(f)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
                    self.at += 1;
                }
                let text: String = self.tokens[start..self.at].iter().collect();
                text.parse().map(Formula::Number).map_err(|_| self.error("bad number"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.at += 1;
                }
                let name: String = self.tokens[start..self.at].iter().collect::<String>().to_ascii_uppercase();
                let metric = match name.as_str() {
                    "UNIQUES" => FormulaMetric::Uniques,
                    "TOTALS" => FormulaMetric::Totals,
                    "AVERAGE" => FormulaMetric::Average,
                    _ => return Err(self.error(&format!("unknown function {name} (use UNIQUES, TOTALS or AVERAGE)"))),
                };
                if self.peek() != Some('(') {
                    return Err(self.error("expected ("));
                }
                self.at += 1;
                let letter = self
                    .peek()
                    .filter(char::is_ascii_alphabetic)
                    .ok_or_else(|| self.error("expected an event letter"))?;
                self.at += 1;
                if self.peek() != Some(')') {
                    return Err(self.error("expected )"));
                }
                self.at += 1;
                Ok(Formula::Metric { metric, index: (letter.to_ascii_uppercase() as u8 - b'A') as usize })
            }
            _ => Err(self.error("expected a number, a function or (")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_eval() {
        let f = Formula::parse("UNIQUES(A) / uniques(b) * 100").unwrap();
        let v = |m: FormulaMetric, i: usize| match (m, i) {
            (FormulaMetric::Uniques, 0) => 3.0,
            (FormulaMetric::Uniques, 1) => 4.0,
            _ => 0.0,
        };
        assert_eq!(f.eval(&v), 75.0);
        assert_eq!(f.max_index(), 1);
        assert_eq!(Formula::parse("TOTALS(A)/(TOTALS(B)-TOTALS(B))").unwrap().eval(&|_, _| 1.0), 0.0);
        assert!(Formula::parse("UNIQUE(A)").unwrap_err().to_string().contains("unknown function"));
        assert!(Formula::parse("(1+2").is_err());
    }
}
