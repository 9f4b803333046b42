//! `mergeguard import FILE`: read a recipient file and account for every row, as JSON
//! (`--json`) or a short summary.

use clap::Args;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::Serialize as DeriveSerialize;
use std::path::PathBuf;
use std::process::ExitCode;

use mergeguard::recipients::{
    self, DelimiterChoice, EncodingChoice, ImportOptions, Recipient, RecipientList, Rejection,
};

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The CSV/TSV file to read.
    pub file: PathBuf,
    /// auto, utf-8, shift_jis or utf-16.
    #[arg(long, default_value = "auto")]
    pub encoding: EncodingChoice,
    /// auto, ",", ";" or tab.
    #[arg(long, default_value = "auto")]
    pub delimiter: DelimiterChoice,
    /// The header of the address column (found automatically when omitted).
    #[arg(long)]
    pub email_column: Option<String>,
    /// Print the full result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ImportArgs) -> ExitCode {
    let options = ImportOptions {
        encoding: args.encoding,
        delimiter: args.delimiter,
        email_column: args.email_column,
        ..ImportOptions::default()
    };
    let list = match recipients::import_path(&args.file, &options) {
        Ok(list) => list,
        Err(e) => return super::fail(format_args!("{}: {e}", args.file.display())),
    };
    if args.json {
        return super::print_json(&ImportJson::from(&list));
    }
    println!(
        "{}: {} recipients, {} rejected (encoding {}, delimiter {}, address column \"{}\")",
        args.file.display(),
        list.recipients.len(),
        list.rejected.len(),
        list.encoding,
        if list.delimiter == "\t" {
            "tab".to_owned()
        } else {
            format!("\"{}\"", list.delimiter)
        },
        list.email_column
    );
    for r in &list.rejected {
        let reason = serde_json::to_value(r.reason).ok();
        let reason = reason
            .as_ref()
            .and_then(|v| v.as_str())
            .unwrap_or("rejected");
        println!("  row {}: {reason}: {}", r.row, r.detail);
    }
    ExitCode::SUCCESS
}

/// The JSON shape of issue 2; `fields` of each recipient keeps header order.
#[derive(DeriveSerialize)]
pub struct ImportJson<'a> {
    pub encoding: &'a str,
    pub delimiter: &'a str,
    pub email_column: &'a str,
    pub fields: &'a [String],
    pub recipients: Vec<RecipientJson<'a>>,
    pub rejected: &'a [Rejection],
}

#[derive(DeriveSerialize)]
pub struct RecipientJson<'a> {
    pub row: u64,
    pub email: &'a str,
    pub fields: OrderedFields<'a>,
}

/// A recipient's cells as a JSON object in header order (serde_json's own map would
/// sort the keys).
pub struct OrderedFields<'a> {
    names: &'a [String],
    recipient: &'a Recipient,
}

impl Serialize for OrderedFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.names.len()))?;
        for (i, name) in self.names.iter().enumerate() {
            let value = self.recipient.value(i).unwrap_or("");
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'a> From<&'a RecipientList> for ImportJson<'a> {
    fn from(list: &'a RecipientList) -> Self {
        ImportJson {
            encoding: &list.encoding,
            delimiter: &list.delimiter,
            email_column: &list.email_column,
            fields: &list.fields,
            recipients: list
                .recipients
                .iter()
                .map(|r| RecipientJson {
                    row: r.row,
                    email: r.email(),
                    fields: OrderedFields {
                        names: &list.fields,
                        recipient: r,
                    },
                })
                .collect(),
            rejected: &list.rejected,
        }
    }
}
