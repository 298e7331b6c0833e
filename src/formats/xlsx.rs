//! XLSX written as a stream, in one pass and bounded memory. The sheet's XML is made row by
//! row on the export's thread and deflated into the zip on a second thread (`Deflater`),
//! so the two halves of the work overlap on two cores. rust_xlsxwriter, which this
//! replaced, wrote the sheet to a temporary file and only compressed it once every row
//! was written, on the same thread: 90k rows/s at 1M rows, half of it in deflate.
//!
//! The workbook is the smallest one Excel and LibreOffice open as a whole: the sheets,
//! then the styles, the workbook and the package's parts, which name the sheets and so
//! come last (a zip's entries may come in any order). Text cells are inline strings, so
//! no table of shared strings grows in memory; deflate takes out the repeats.
//!
//! A sheet holds 1,048,576 rows: after 1,048,575 data rows the next rows go to a new sheet
//! with the header again. Each cell is written by its column's kind (`SheetForm`: a number
//! with its format, a boolean, or text). Excel's limits are met without failing the
//! export: a text cell holds at most 32,767 characters, so longer text keeps its first
//! 32,767 and is counted (the job reports how many cells were cut); a number keeps 15
//! significant digits, so the kinds write larger ones as text, exactly, rather than rounded.

use super::FormatSpec;

pub static FORMAT: FormatSpec = FormatSpec {
    id: "xlsx",
    label: "Excel (XLSX)",
    extension: "xlsx",
    content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    bom: false,
    // A ZIP archive.
    compressed: true,
    #[cfg(feature = "ssr")]
    records: None,
    #[cfg(feature = "ssr")]
    encoder: |columns, _, out| Ok(Box::new(ssr::XlsxEncoder::new(columns, out)?)),
};

#[cfg(feature = "ssr")]
mod ssr {
    use crate::catalog::Cell;
    use crate::catalog::kinds::{SheetForm, spec};
    use crate::formats::safety::sheet_text;
    use crate::formats::{Encoder, FileColumns};
    use std::io::{self, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{SyncSender, sync_channel};
    use std::thread::JoinHandle;
    use zip::write::{SimpleFileOptions, StreamWriter};
    use zip::{CompressionMethod, ZipWriter};

    /// Data rows per sheet: the sheet limit less the header row.
    pub const ROWS_PER_SHEET: u32 = 1_048_575;
    /// Characters in one cell at most.
    pub const CELL_CHARS: usize = 32_767;
    /// Columns in a sheet at most.
    const COLUMNS: usize = 16_384;
    /// A sheet's XML stays under 4 GiB, the largest zip entry without Zip64 extensions
    /// (which some readers refuse): past 3 GiB the next rows go to a new sheet.
    const SHEET_BYTES: u64 = 3 << 30;
    /// XML is handed to the deflate thread in pieces of this size, at most `QUEUED` of
    /// them waiting: the memory the overlap costs.
    const PIECE: usize = 256 << 10;
    const QUEUED: usize = 4;
    /// Deflate level 3 (zlib-rs). Measured on 1M contacts (`make bench`, 2 cores): level 1
    /// gave 271k rows/s and 107 MB, level 3 249k rows/s and 81 MB: a quarter less to
    /// download for 8% of the speed.
    const LEVEL: i64 = 3;

    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const RELATIONSHIPS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    const PACKAGE_RELATIONSHIPS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

    /// The text as it fits a cell, and whether it had to be cut.
    pub fn fitted(text: &str) -> (&str, bool) {
        match text.char_indices().nth(CELL_CHARS) {
            Some((cut, _)) => (&text[..cut], true),
            None => (text, false),
        }
    }

    /// What the deflate thread is given, in order.
    enum Piece {
        /// The next file of the zip.
        Entry(String),
        Bytes(Vec<u8>),
        /// The end of the zip: the thread writes its directory and gives the output back.
        End,
    }

    /// The zip, written on a thread of its own from the pieces sent to it.
    struct Deflater<W> {
        pieces: Option<SyncSender<Piece>>,
        thread: Option<JoinHandle<io::Result<W>>>,
    }

    impl<W: Write + Send + 'static> Deflater<W> {
        fn start(out: W) -> io::Result<Self> {
            let (pieces, received) = sync_channel(QUEUED);
            let thread = std::thread::Builder::new()
                .name("xlsx-deflate".into())
                .spawn(move || deflate(out, received))?;
            Ok(Deflater {
                pieces: Some(pieces),
                thread: Some(thread),
            })
        }

        fn send(&mut self, piece: Piece) -> io::Result<()> {
            match &self.pieces {
                Some(pieces) if pieces.send(piece).is_ok() => Ok(()),
                // The thread stopped: its error says why (the output failed, most often).
                _ => Err(match self.join() {
                    Err(e) => e,
                    Ok(_) => io::Error::other("the workbook's zip was closed early"),
                }),
            }
        }

        fn join(&mut self) -> io::Result<W> {
            self.pieces = None;
            match self.thread.take().map(JoinHandle::join) {
                Some(Ok(result)) => result,
                Some(Err(_)) => Err(io::Error::other("the workbook's deflate thread panicked")),
                None => Err(io::Error::other("the workbook's zip was closed early")),
            }
        }

        fn finish(mut self) -> io::Result<W> {
            self.send(Piece::End)?;
            self.join()
        }
    }

    /// The deflate thread. Dropping the encoder drops the sender: the zip is left
    /// unfinished and the output dropped unclosed, as for any failed export.
    fn deflate<W: Write>(out: W, pieces: std::sync::mpsc::Receiver<Piece>) -> io::Result<W> {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(LEVEL));
        let shut = Arc::new(AtomicBool::new(false));
        let mut zip: ZipWriter<StreamWriter<Valve<W>>> = ZipWriter::new_stream(Valve {
            out,
            shut: shut.clone(),
        });
        let zip_all = || -> io::Result<bool> {
            for piece in pieces {
                match piece {
                    Piece::Entry(name) => zip.start_file(name, options).map_err(zip_error)?,
                    Piece::Bytes(bytes) => zip.write_all(&bytes)?,
                    Piece::End => return Ok(true),
                }
            }
            Ok(false)
        };
        let finished = zip_all();
        if !matches!(finished, Ok(true)) {
            // Dropping the zip writes its directory: that must not reach the output.
            shut.store(true, Ordering::Relaxed);
        }
        match finished? {
            true => Ok(zip.finish().map_err(zip_error)?.into_inner().out),
            false => Err(io::Error::other("the workbook was left unfinished")),
        }
    }

    /// The output, shut when the zip is abandoned: the zip's writer closes itself when
    /// dropped, and what it writes then is dropped here.
    struct Valve<W> {
        out: W,
        shut: Arc<AtomicBool>,
    }

    impl<W: Write> Write for Valve<W> {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if self.shut.load(Ordering::Relaxed) {
                return Ok(data.len());
            }
            self.out.write(data)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.out.flush()
        }
    }

    fn zip_error(e: zip::result::ZipError) -> io::Error {
        io::Error::other(e.to_string())
    }

    /// The cell formats (`cellXfs`) a workbook uses: 0 plain, 1 the bold header, then one
    /// per number format, in the order first used.
    #[derive(Default)]
    struct Styles {
        numbers: Vec<&'static str>,
    }

    const BOLD: u32 = 1;

    impl Styles {
        fn number(&mut self, format: &'static str) -> u32 {
            let at = match self.numbers.iter().position(|f| *f == format) {
                Some(at) => at,
                None => {
                    self.numbers.push(format);
                    self.numbers.len() - 1
                }
            };
            2 + at as u32
        }

        /// `xl/styles.xml`. Formats Excel has built in keep their ids; others get their own
        /// from 164.
        fn xml(&self) -> String {
            let id = |at: usize, format: &str| match format {
                "0" => 1,
                "0.00" => 2,
                _ => 164 + at,
            };
            let custom: String = (self.numbers.iter().enumerate())
                .filter(|(at, format)| id(*at, format) >= 164)
                .map(|(at, format)| {
                    format!(
                        "<numFmt numFmtId=\"{}\" formatCode=\"{}\"/>",
                        id(at, format),
                        attribute(format)
                    )
                })
                .collect();
            let count = custom.matches("<numFmt ").count();
            let numbers: String = (self.numbers.iter().enumerate())
                .map(|(at, format)| {
                    format!(
                        "<xf numFmtId=\"{}\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/>",
                        id(at, format)
                    )
                })
                .collect();
            format!(
                "{XML_DECLARATION}<styleSheet xmlns=\"{MAIN}\">{}\
                 <fonts count=\"2\"><font><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font>\
                 <font><b/><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font></fonts>\
                 <fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill><fill><patternFill patternType=\"gray125\"/></fill></fills>\
                 <borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
                 <cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>\
                 <cellXfs count=\"{}\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
                 <xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/>{numbers}</cellXfs>\
                 <cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles></styleSheet>",
                if count > 0 {
                    format!("<numFmts count=\"{count}\">{custom}</numFmts>")
                } else {
                    String::new()
                },
                2 + self.numbers.len(),
            )
        }
    }

    /// The files of the package around `sheets` sheets, by name.
    fn package(sheets: u32, styles: &Styles) -> Vec<(String, String)> {
        let sheet_types: String = (1..=sheets)
            .map(|n| {
                format!(
                    "<Override PartName=\"/xl/worksheets/sheet{n}.xml\" \
                     ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
                )
            })
            .collect();
        let sheet_list: String = (1..=sheets)
            .map(|n| format!("<sheet name=\"Data {n}\" sheetId=\"{n}\" r:id=\"rId{n}\"/>"))
            .collect();
        let sheet_links: String = (1..=sheets)
            .map(|n| {
                format!(
                    "<Relationship Id=\"rId{n}\" Type=\"{RELATIONSHIPS}/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>"
                )
            })
            .collect();
        vec![
            ("xl/styles.xml".into(), styles.xml()),
            (
                "xl/workbook.xml".into(),
                format!(
                    "{XML_DECLARATION}<workbook xmlns=\"{MAIN}\" xmlns:r=\"{RELATIONSHIPS}\">\
                     <bookViews><workbookView/></bookViews><sheets>{sheet_list}</sheets></workbook>"
                ),
            ),
            (
                "xl/_rels/workbook.xml.rels".into(),
                format!(
                    "{XML_DECLARATION}<Relationships xmlns=\"{PACKAGE_RELATIONSHIPS}\">{sheet_links}\
                     <Relationship Id=\"rId{}\" Type=\"{RELATIONSHIPS}/styles\" Target=\"styles.xml\"/></Relationships>",
                    sheets + 1
                ),
            ),
            (
                "_rels/.rels".into(),
                format!(
                    "{XML_DECLARATION}<Relationships xmlns=\"{PACKAGE_RELATIONSHIPS}\">\
                     <Relationship Id=\"rId1\" Type=\"{RELATIONSHIPS}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
                ),
            ),
            (
                "[Content_Types].xml".into(),
                format!(
                    "{XML_DECLARATION}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
                     <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
                     <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
                     <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
                     <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
                     {sheet_types}</Types>"
                ),
            ),
        ]
    }

    /// Text in an attribute's quotes.
    fn attribute(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    /// Whether `rest` starts with `_xHHHH_`, Excel's escape of one character.
    fn escape_like(rest: &[u8]) -> bool {
        rest.len() >= 7 && rest[1] == b'x' && rest[2..6].iter().all(u8::is_ascii_hexdigit) && rest[6] == b'_'
    }

    /// Text as a cell's XML character data, escaped as Excel escapes it: `& < >` as
    /// entities; control characters, which XML cannot hold, and U+FFFE and U+FFFF as
    /// `_xHHHH_`; and a literal `_xHHHH_` with its underscore escaped (`_x005F_xHHHH_`),
    /// so that it reads back as it was typed.
    fn escape(xml: &mut Vec<u8>, text: &str) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let bytes = text.as_bytes();
        let (mut done, mut at) = (0, 0);
        while at < bytes.len() {
            let b = bytes[at];
            let (escaped, taken): (&[u8], usize) = match b {
                b'&' => (b"&amp;", 1),
                b'<' => (b"&lt;", 1),
                b'>' => (b"&gt;", 1),
                b'\t' | b'\n' => (b"", 0),
                0..=0x1f => {
                    xml.extend_from_slice(&bytes[done..at]);
                    xml.extend_from_slice(b"_x00");
                    xml.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)], b'_']);
                    at += 1;
                    done = at;
                    continue;
                }
                // The escape goes before the underscore, which is then written as it is.
                b'_' if escape_like(&bytes[at..]) => {
                    xml.extend_from_slice(&bytes[done..at]);
                    xml.extend_from_slice(b"_x005F");
                    done = at;
                    at += 1;
                    continue;
                }
                0xEF if bytes[at..].starts_with("\u{FFFE}".as_bytes()) => (b"_xFFFE_", 3),
                0xEF if bytes[at..].starts_with("\u{FFFF}".as_bytes()) => (b"_xFFFF_", 3),
                _ => (b"", 0),
            };
            if taken == 0 {
                at += 1;
                continue;
            }
            xml.extend_from_slice(&bytes[done..at]);
            xml.extend_from_slice(escaped);
            at += taken;
            done = at;
        }
        xml.extend_from_slice(&bytes[done..]);
    }

    /// A cell's start: `<c r="B7"` and its style.
    fn open_cell(xml: &mut Vec<u8>, letters: &str, row: &str, style: u32) {
        xml.extend_from_slice(b"<c r=\"");
        xml.extend_from_slice(letters.as_bytes());
        xml.extend_from_slice(row.as_bytes());
        xml.push(b'"');
        if style > 0 {
            xml.extend_from_slice(b" s=\"");
            xml.extend_from_slice(itoa::Buffer::new().format(style).as_bytes());
            xml.push(b'"');
        }
    }

    fn text_cell(xml: &mut Vec<u8>, letters: &str, row: &str, style: u32, text: &str) {
        open_cell(xml, letters, row, style);
        xml.extend_from_slice(b" t=\"inlineStr\"><is><t");
        let space = [' ', '\t', '\n'];
        if text.starts_with(space) || text.ends_with(space) {
            xml.extend_from_slice(b" xml:space=\"preserve\"");
        }
        xml.push(b'>');
        escape(xml, text);
        xml.extend_from_slice(b"</t></is></c>");
    }

    /// A finite number: whole ones by their digits, others in the shortest form that
    /// reads back as the same number.
    fn number_cell(xml: &mut Vec<u8>, letters: &str, row: &str, style: u32, n: f64) {
        open_cell(xml, letters, row, style);
        xml.extend_from_slice(b"><v>");
        if n.fract() == 0.0 && n.abs() < 1e15 {
            xml.extend_from_slice(itoa::Buffer::new().format(n as i64).as_bytes());
        } else {
            write!(xml, "{n}").expect("writing to memory");
        }
        xml.extend_from_slice(b"</v></c>");
    }

    fn bool_cell(xml: &mut Vec<u8>, letters: &str, row: &str, b: bool) {
        open_cell(xml, letters, row, 0);
        xml.extend_from_slice(if b {
            b" t=\"b\"><v>1</v></c>"
        } else {
            b" t=\"b\"><v>0</v></c>"
        });
    }

    /// A column's letters: 0 is `A`, 26 is `AA`.
    fn letters(mut column: usize) -> String {
        let mut name = Vec::new();
        loop {
            name.push(b'A' + (column % 26) as u8);
            if column < 26 {
                break;
            }
            column = column / 26 - 1;
        }
        name.reverse();
        String::from_utf8(name).expect("ASCII letters")
    }

    pub struct XlsxEncoder<W> {
        columns: FileColumns,
        /// Each file column's letters.
        letters: Vec<String>,
        styles: Styles,
        sheets: u32,
        /// The next row to write in the current sheet (0 is the header).
        next_row: u32,
        rows_per_sheet: u32,
        /// The current sheet's XML handed to the deflater so far.
        sheet_bytes: u64,
        shortened: u64,
        xml: Vec<u8>,
        deflater: Deflater<W>,
    }

    impl<W: Write + Send + 'static> XlsxEncoder<W> {
        pub fn new(columns: FileColumns, out: W) -> io::Result<Self> {
            Self::with_sheet_size(columns, out, ROWS_PER_SHEET)
        }

        pub(crate) fn with_sheet_size(columns: FileColumns, out: W, rows_per_sheet: u32) -> io::Result<Self> {
            if columns.len() > COLUMNS {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "an XLSX sheet holds at most {COLUMNS} columns; this file has {}",
                        columns.len()
                    ),
                ));
            }
            let mut encoder = XlsxEncoder {
                letters: (0..columns.len()).map(letters).collect(),
                columns,
                styles: Styles::default(),
                sheets: 0,
                next_row: 0,
                rows_per_sheet,
                sheet_bytes: 0,
                shortened: 0,
                xml: Vec::with_capacity(PIECE + (64 << 10)),
                deflater: Deflater::start(out)?,
            };
            encoder.start_sheet()?;
            Ok(encoder)
        }

        /// A new sheet with its header row, frozen above the rows.
        fn start_sheet(&mut self) -> io::Result<()> {
            self.sheets += 1;
            self.deflater
                .send(Piece::Entry(format!("xl/worksheets/sheet{}.xml", self.sheets)))?;
            self.sheet_bytes = 0;
            let selected = if self.sheets == 1 { " tabSelected=\"1\"" } else { "" };
            write!(
                self.xml,
                "{XML_DECLARATION}<worksheet xmlns=\"{MAIN}\" xmlns:r=\"{RELATIONSHIPS}\"><sheetViews>\
                 <sheetView{selected} workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" \
                 activePane=\"bottomLeft\" state=\"frozen\"/><selection pane=\"bottomLeft\"/></sheetView>\
                 </sheetViews><sheetFormatPr defaultRowHeight=\"15\"/><sheetData><row r=\"1\">"
            )?;
            for (column, letters) in self.columns.iter().zip(&self.letters) {
                text_cell(&mut self.xml, letters, "1", BOLD, fitted(&column.label).0);
            }
            self.xml.extend_from_slice(b"</row>");
            self.next_row = 1;
            Ok(())
        }

        fn end_sheet(&mut self) -> io::Result<()> {
            self.xml.extend_from_slice(
                b"</sheetData><pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" bottom=\"0.75\" \
                  header=\"0.3\" footer=\"0.3\"/></worksheet>",
            );
            self.hand_over()
        }

        /// Gives the XML made so far to the deflater.
        fn hand_over(&mut self) -> io::Result<()> {
            let xml = std::mem::replace(&mut self.xml, Vec::with_capacity(PIECE + (64 << 10)));
            self.sheet_bytes += xml.len() as u64;
            self.deflater.send(Piece::Bytes(xml))
        }
    }

    impl<W: Write + Send + 'static> Encoder<W> for XlsxEncoder<W> {
        fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
            if self.next_row > self.rows_per_sheet || self.sheet_bytes + self.xml.len() as u64 >= SHEET_BYTES {
                self.end_sheet()?;
                self.start_sheet()?;
            }
            let mut digits = itoa::Buffer::new();
            let row = digits.format(self.next_row + 1);
            let xml = &mut self.xml;
            xml.extend_from_slice(b"<row r=\"");
            xml.extend_from_slice(row.as_bytes());
            xml.extend_from_slice(b"\">");
            for (column, letters) in self.columns.iter().zip(&self.letters) {
                let cell = &cells[column.index];
                if matches!(cell, Cell::Null) {
                    continue;
                }
                let kind = spec(column.kind);
                match kind.sheet(cell) {
                    SheetForm::Empty => {}
                    SheetForm::Number(n, format) if n.is_finite() => {
                        number_cell(xml, letters, row, self.styles.number(format), n)
                    }
                    // NaN and the infinities, which a number cell cannot hold.
                    SheetForm::Number(..) => text_cell(xml, letters, row, 0, &kind.text(cell)),
                    SheetForm::Bool(b) => bool_cell(xml, letters, row, b),
                    SheetForm::Text(text) => {
                        let text = if kind.free_text() { sheet_text(text) } else { text };
                        let (text, cut) = fitted(&text);
                        self.shortened += u64::from(cut);
                        text_cell(xml, letters, row, 0, text);
                    }
                }
            }
            xml.extend_from_slice(b"</row>");
            self.next_row += 1;
            if self.xml.len() >= PIECE {
                self.hand_over()?;
            }
            Ok(())
        }

        fn shortened_cells(&self) -> u64 {
            self.shortened
        }

        fn finish(mut self: Box<Self>) -> io::Result<W> {
            self.end_sheet()?;
            for (name, xml) in package(self.sheets, &self.styles) {
                self.deflater.send(Piece::Entry(name))?;
                self.deflater.send(Piece::Bytes(xml.into_bytes()))?;
            }
            let XlsxEncoder { deflater, .. } = *self;
            deflater.finish()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::catalog::Kind;
        use crate::formats::testing::columns;
        use std::io::Read;

        fn cols() -> FileColumns {
            columns(&[("id", Kind::Integer), ("name", Kind::Text)])
        }

        /// The files of a zip, by name.
        fn unzip(bytes: Vec<u8>) -> std::collections::BTreeMap<String, String> {
            let mut zip = zip::ZipArchive::new(io::Cursor::new(bytes)).unwrap();
            (0..zip.len())
                .map(|i| {
                    let mut file = zip.by_index(i).unwrap();
                    let mut text = String::new();
                    file.read_to_string(&mut text).unwrap();
                    (file.name().unwrap().into_owned(), text)
                })
                .collect()
        }

        #[test]
        fn long_text_is_cut_at_the_cell_limit_on_a_character_boundary() {
            let long = "é".repeat(CELL_CHARS + 5);
            let (fitted_text, cut) = fitted(&long);
            assert!(cut);
            assert_eq!(fitted_text.chars().count(), CELL_CHARS);
            assert_eq!(fitted("short"), ("short", false));
            let mut e: Box<dyn Encoder<Vec<u8>>> = Box::new(XlsxEncoder::new(cols(), Vec::new()).unwrap());
            e.row(&[Cell::Integer(1), Cell::Text(long)]).unwrap();
            e.row(&[Cell::Integer(i64::MIN), Cell::Text("x".repeat(CELL_CHARS))])
                .unwrap();
            assert_eq!(e.shortened_cells(), 1);
            assert_eq!(&e.finish().unwrap()[..2], b"PK");
        }

        #[test]
        fn rolls_over_to_a_new_sheet_and_writes_a_zip() {
            let mut e: Box<dyn Encoder<Vec<u8>>> =
                Box::new(XlsxEncoder::with_sheet_size(cols(), Vec::new(), 2).unwrap());
            for i in 0..5 {
                e.row(&[Cell::Integer(i), Cell::Text(format!("=row {i}"))]).unwrap();
            }
            let files = unzip(e.finish().unwrap());
            // Five rows at two a sheet: three sheets, each with the header.
            for n in 1..=3 {
                let sheet = &files[&format!("xl/worksheets/sheet{n}.xml")];
                assert!(sheet.contains(r#"<row r="1"><c r="A1" s="1" t="inlineStr"><is><t>ID</t>"#));
                assert_eq!(sheet.matches("<row ").count(), if n == 3 { 2 } else { 3 });
                assert!(files["xl/workbook.xml"].contains(&format!("<sheet name=\"Data {n}\"")));
                assert!(files["[Content_Types].xml"].contains(&format!("/xl/worksheets/sheet{n}.xml")));
            }
            assert!(!files.contains_key("xl/worksheets/sheet4.xml"));
            assert!(files["xl/worksheets/sheet3.xml"].contains(r#"<row r="2"><c r="A2" s="2"><v>4</v></c>"#));
            // A formula-like text is an inline string, made safe: never a formula.
            assert!(
                files["xl/worksheets/sheet1.xml"].contains(r#"<c r="B2" t="inlineStr"><is><t>'=row 0</t></is></c>"#)
            );
            assert!(!files.values().any(|xml| xml.contains("<f>")));
        }

        #[test]
        fn text_is_escaped_as_excel_escapes_it() {
            let mut xml = Vec::new();
            escape(&mut xml, "a<b>&c\u{1}\td\r\n_x0041_ _x41_ \u{FFFE}é");
            assert_eq!(
                String::from_utf8(xml).unwrap(),
                "a&lt;b&gt;&amp;c_x0001_\td_x000D_\n_x005F_x0041_ _x41_ _xFFFE_é"
            );
            let mut xml = Vec::new();
            text_cell(&mut xml, "AB", "7", 0, " padded ");
            assert_eq!(
                String::from_utf8(xml).unwrap(),
                r#"<c r="AB7" t="inlineStr"><is><t xml:space="preserve"> padded </t></is></c>"#
            );
        }

        #[test]
        fn numbers_keep_their_value_and_format() {
            let mut xml = Vec::new();
            for n in [12.0, -0.05, 1234567890123.45, 1e15] {
                number_cell(&mut xml, "A", "2", 2, n);
            }
            assert_eq!(
                String::from_utf8(xml).unwrap(),
                r#"<c r="A2" s="2"><v>12</v></c><c r="A2" s="2"><v>-0.05</v></c><c r="A2" s="2"><v>1234567890123.45</v></c><c r="A2" s="2"><v>1000000000000000</v></c>"#
            );
            let mut styles = Styles::default();
            assert_eq!(
                (styles.number("0.000"), styles.number("0"), styles.number("0.000")),
                (2, 3, 2)
            );
            let xml = styles.xml();
            assert!(xml.contains(r#"<numFmts count="1"><numFmt numFmtId="164" formatCode="0.000"/></numFmts>"#));
            assert!(xml.contains(r#"<cellXfs count="4">"#));
        }

        #[test]
        fn column_letters() {
            let names: Vec<String> = [0, 25, 26, 51, 52, 701, 702, 16_383].into_iter().map(letters).collect();
            assert_eq!(names, ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD"]);
        }

        #[test]
        fn a_failed_output_fails_the_export() {
            struct Broken;
            impl Write for Broken {
                fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                    Err(io::Error::other("storage is down"))
                }
                fn flush(&mut self) -> io::Result<()> {
                    Ok(())
                }
            }
            let mut e: Box<dyn Encoder<Broken>> = Box::new(XlsxEncoder::new(cols(), Broken).unwrap());
            let failed = (0..100_000)
                .map(|i| e.row(&[Cell::Integer(i), Cell::Text(format!("row {i} of many"))]))
                .find_map(Result::err)
                .or_else(|| e.finish().err());
            let failed = failed.expect("the export fails").to_string();
            assert!(failed.contains("storage is down"), "{failed}");
        }
    }
}
