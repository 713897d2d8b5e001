//! The bounds a footer must keep before the `parquet` crate decodes it.
//!
//! The crate checks every Thrift list against the bytes left, but it takes a schema
//! element's `num_children` on trust: it reserves room for that many children and
//! recurses once per level of nesting. A footer of a few bytes saying "2 147 483 647
//! children" would make it ask for 16 GiB, and one nesting 100 000 groups would overflow
//! the stack — an abort, not an error. This walk reads the Thrift compact protocol only as
//! far as it must to count: every schema element's children, against the elements that
//! follow and a maximum depth. It decodes nothing else; the crate does that.

/// The deepest schema tree accepted: far beyond real schemas, far below the stack.
pub const MAX_DEPTH: usize = 64;

/// The deepest Thrift nesting skipped over (the crate's own limit).
const MAX_SKIP_DEPTH: usize = 64;

/// Checks the schema trees in `footer` (a Thrift compact `FileMetaData`); the error says
/// what is wrong and where, as a sentence's predicate ("is …", "says …").
pub fn check(footer: &[u8]) -> Result<(), String> {
    let mut r = Reader { buf: footer, at: 0 };
    r.file_metadata()
        .map_err(|why| format!("is not valid Parquet metadata: {why} (at byte {})", r.at))
}

/// Compact-protocol type ids.
mod ty {
    pub const BOOL_TRUE: u8 = 1;
    pub const BOOL_FALSE: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const I16: u8 = 4;
    pub const I32: u8 = 5;
    pub const I64: u8 = 6;
    pub const DOUBLE: u8 = 7;
    pub const BINARY: u8 = 8;
    pub const LIST: u8 = 9;
    pub const SET: u8 = 10;
    pub const MAP: u8 = 11;
    pub const STRUCT: u8 = 12;
}

/// A cursor over the footer's bytes.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// `FileMetaData`: field 2 is the schema, a list of `SchemaElement`s.
    fn file_metadata(&mut self) -> Result<(), String> {
        let mut last = 0;
        let mut schema_checked = false;
        loop {
            let step = match self.field_header(&mut last) {
                Ok(None) => return Ok(()),
                Ok(Some((2, ty::LIST))) => {
                    self.schema()?;
                    schema_checked = true;
                    continue;
                }
                Ok(Some((_, kind))) => self.skip(kind, MAX_SKIP_DEPTH),
                Err(why) => Err(why),
            };
            // Past a checked schema, bytes this walk cannot read are the crate's to
            // report: it reads them in the same order, and its message is the one users see.
            if step.is_err() && schema_checked {
                return Ok(());
            }
            step?;
        }
    }

    /// The schema: a tree written depth-first, each element saying how many children
    /// follow it.
    fn schema(&mut self) -> Result<(), String> {
        let (len, kind) = self.list_header()?;
        if kind != ty::STRUCT {
            // Not a list of elements: the crate says so.
            return self.skip_elements(len, kind, MAX_SKIP_DEPTH);
        }
        // Children still to come for each group open around the next element.
        let mut open: Vec<u64> = Vec::new();
        for i in 0..len {
            let children = self.schema_element()?;
            if let Some(top) = open.last_mut() {
                *top = top.saturating_sub(1);
            }
            if children > 0 {
                let follow = len - i - 1;
                if children > follow {
                    return Err(format!(
                        "schema element {i} says it has {children} children, but only \
                         {follow} elements follow"
                    ));
                }
                open.push(children);
                if open.len() > MAX_DEPTH {
                    return Err(format!("the schema nests deeper than {MAX_DEPTH} levels"));
                }
            }
            while open.last() == Some(&0) {
                open.pop();
            }
        }
        Ok(())
    }

    /// One `SchemaElement`: its `num_children` (field 5), 0 when absent or negative (the
    /// crate refuses a negative count itself).
    fn schema_element(&mut self) -> Result<u64, String> {
        let mut children = 0;
        let mut last = 0;
        while let Some((id, kind)) = self.field_header(&mut last)? {
            if id == 5 && kind == ty::I32 {
                children = u64::try_from(zigzag(self.varint()?)).unwrap_or(0);
            } else {
                self.skip(kind, MAX_SKIP_DEPTH)?;
            }
        }
        Ok(children)
    }

    /// A field header: `None` at the struct's end, else the field id and its type.
    fn field_header(&mut self, last: &mut i64) -> Result<Option<(i64, u8)>, String> {
        let byte = self.byte()?;
        if byte == 0 {
            return Ok(None);
        }
        let delta = i64::from(byte >> 4);
        let id = if delta == 0 {
            zigzag(self.varint()?)
        } else {
            *last + delta
        };
        *last = id;
        Ok(Some((id, byte & 0x0f)))
    }

    /// A list or set header: the element count and type.
    fn list_header(&mut self) -> Result<(u64, u8), String> {
        let byte = self.byte()?;
        let short = u64::from(byte >> 4);
        let len = if short == 15 { self.varint()? } else { short };
        Ok((len, byte & 0x0f))
    }

    /// Skips one value of type `kind` (a field's: booleans carry their value in the type).
    fn skip(&mut self, kind: u8, depth: usize) -> Result<(), String> {
        let depth = depth
            .checked_sub(1)
            .ok_or_else(|| format!("Thrift nesting deeper than {MAX_SKIP_DEPTH} levels"))?;
        match kind {
            ty::BOOL_TRUE | ty::BOOL_FALSE => Ok(()),
            ty::BYTE => self.bytes(1),
            ty::I16 | ty::I32 | ty::I64 => self.varint().map(drop),
            ty::DOUBLE => self.bytes(8),
            ty::BINARY => {
                let len = self.varint()?;
                self.bytes(len)
            }
            ty::LIST | ty::SET => {
                let (len, kind) = self.list_header()?;
                self.skip_elements(len, kind, depth)
            }
            ty::MAP => {
                let len = self.varint()?;
                if len == 0 {
                    return Ok(());
                }
                let kinds = self.byte()?;
                for _ in 0..len {
                    self.skip_element(kinds >> 4, depth)?;
                    self.skip_element(kinds & 0x0f, depth)?;
                }
                Ok(())
            }
            ty::STRUCT => {
                let mut last = 0;
                while let Some((_, kind)) = self.field_header(&mut last)? {
                    self.skip(kind, depth)?;
                }
                Ok(())
            }
            other => Err(format!("unknown Thrift type {other}")),
        }
    }

    /// Skips `len` elements of a list, each at least one byte (so a huge count runs out of
    /// input quickly).
    fn skip_elements(&mut self, len: u64, kind: u8, depth: usize) -> Result<(), String> {
        for _ in 0..len {
            self.skip_element(kind, depth)?;
        }
        Ok(())
    }

    /// Skips one element of a list or map: a boolean there is a whole byte.
    fn skip_element(&mut self, kind: u8, depth: usize) -> Result<(), String> {
        match kind {
            ty::BOOL_TRUE | ty::BOOL_FALSE => self.bytes(1),
            _ => self.skip(kind, depth),
        }
    }

    fn byte(&mut self) -> Result<u8, String> {
        let byte = *self.buf.get(self.at).ok_or("it ends too early")?;
        self.at += 1;
        Ok(byte)
    }

    fn bytes(&mut self, n: u64) -> Result<(), String> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|&end| end <= self.buf.len())
            .ok_or("it ends too early")?;
        self.at = end;
        Ok(())
    }

    /// An unsigned LEB128 varint of at most 10 bytes.
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 10 bytes".into())
    }
}

/// A zigzag-encoded signed integer.
fn zigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}
