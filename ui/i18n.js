// UI text in English and Japanese. The language follows the OS (navigator.language,
// ja* → Japanese), can be switched in the header, and is remembered in localStorage.
// Error codes from the core are translated here, in one table per language.

const STRINGS = {
  en: {
    language: "Language",
    nav_label: "Screens",
    nav_recipients: "Recipients",
    nav_compose: "Compose",
    nav_preview: "Preview",
    recipients_title: "Recipients",
    recipients_lead: "Open a customer list (CSV or tab-separated) or a campaign file. Every row becomes a recipient or is listed below with the reason it was left out.",
    path_label: "File (CSV, TSV or campaign .toml)",
    path_placeholder: "/home/you/customers.csv",
    browse: "Open…",
    encoding_label: "Encoding",
    auto_detect: "Detect automatically",
    delimiter_label: "Delimiter",
    delim_comma: "Comma ( , )",
    delim_semicolon: "Semicolon ( ; )",
    delim_tab: "Tab",
    email_column_label: "Address column",
    email_column_placeholder: "Found automatically",
    load: "Load",
    load_example: "Load example",
    loading: "Loading…",
    loaded: "Loaded {recipients} recipients; {rejected} rows left out.",
    loaded_campaign: "Campaign opened: {recipients} recipients, {rejected} rows left out, message ready to preview.",
    no_example: "The example campaign could not be found in this installation.",
    path_missing: "Type the path of a file, or choose one with Open….",
    dialog_title: "Open a recipient list or campaign",
    dialog_filter_lists: "Recipient lists and campaigns",
    s_file: "File",
    s_encoding: "Encoding",
    s_delimiter: "Delimiter",
    s_email_column: "Address column",
    s_recipients: "Recipients",
    s_rejected: "Left out",
    s_fields: "Fields",
    delim_name_tab: "Tab",
    recipients_table_title: "Recipients",
    col_row: "Row",
    col_email: "Address",
    col_reason: "Reason",
    col_detail: "Detail",
    prev_page: "Previous page",
    next_page: "Next page",
    page_info: "{from}–{to} of {total}",
    rejected_title: "Rows left out",
    rejected_none: "Every row became a recipient.",
    reason_invalid_address: "Not a valid email address",
    reason_empty_address: "No email address",
    reason_multiple_addresses: "More than one address in the cell",
    reason_duplicate: "Duplicate address",
    reason_malformed_row: "Row does not match the header",
    reason_suppressed: "On the suppression list (unsubscribed or bounced)",
    compose_title: "Compose",
    compose_lead: "Write one message. Merge fields such as {{ name }} are filled in for each recipient; a field missing for a recipient stops that message instead of sending a gap.",
    from_name: "From name",
    from_address: "From address",
    reply_to: "Reply-To (optional)",
    subject: "Subject",
    merge_fields: "Merge fields (click to insert)",
    merge_fields_empty: "Load recipients to see their fields.",
    text_body: "Plain-text body",
    html_body: "HTML body (optional)",
    attachments_from_campaign: "Attachments from the campaign file: {names}",
    apply: "Apply",
    applied: "Message saved. Open Preview to check every copy.",
    preview_title: "Preview",
    preview_empty: "Load recipients and apply a message first; then every personalised copy appears here exactly as it will be sent.",
    preview_toolbar: "Navigate messages",
    first: "First message",
    prev: "Previous message",
    next: "Next message",
    last: "Last message",
    jump_label: "Go to message",
    go: "Go",
    search_label: "Find address",
    find: "Find",
    not_found: "No recipient address contains “{query}”.",
    jump_invalid: "Enter a message number from 1 to {total}.",
    counter: "Message {index} of {total}",
    h_row: "Row",
    h_to: "To",
    h_subject: "Subject",
    h_attachments: "Attachments",
    none: "None",
    text_part: "Plain text",
    html_part: "HTML (no scripts, no remote images)",
    no_html: "This message has no HTML part.",
    raw_source: "Raw source (exactly as sent)",
    render_failed: "The message for row {row} ({email}) cannot be built:",
    error_prefix: "Error",
    err_io: "The file could not be opened or read.",
    err_invalid_csv: "The recipient file cannot be read as a list.",
    err_invalid_campaign: "The campaign file has a missing or wrong setting.",
    err_template_syntax: "The message template has a mistake.",
    err_missing_field: "A merge field has no value for this recipient.",
    err_header_injection: "A merged value would break a header line (it contains a line break or control character).",
    err_invalid_message: "The message breaks a safety rule.",
    err_invalid_address: "An address is not a valid mailbox.",
    err_check_failed: "A check could not run.",
    err_auth_failed: "Sign-in refused.",
    err_locked_out: "Too many wrong PINs; try again later.",
    err_forbidden: "You do not have the role for this action.",
    err_not_approved: "This campaign has no valid approval.",
    err_keychain: "The system keychain refused the operation.",
    err_database: "The local database failed.",
    err_audit_broken: "The operation log has been altered.",
    err_send: "Sending failed.",
    err_internal: "Something unexpected happened.",
  },
  ja: {
    language: "言語",
    nav_label: "画面",
    nav_recipients: "宛先",
    nav_compose: "本文作成",
    nav_preview: "プレビュー",
    recipients_title: "宛先",
    recipients_lead: "顧客リスト（CSV またはタブ区切り）かキャンペーンファイルを開きます。すべての行は宛先になるか、除外理由とともに下に表示されます。",
    path_label: "ファイル（CSV・TSV・キャンペーン .toml）",
    path_placeholder: "/home/you/customers.csv",
    browse: "開く…",
    encoding_label: "文字コード",
    auto_detect: "自動判定",
    delimiter_label: "区切り文字",
    delim_comma: "カンマ（ , ）",
    delim_semicolon: "セミコロン（ ; ）",
    delim_tab: "タブ",
    email_column_label: "メールアドレスの列",
    email_column_placeholder: "自動で検出",
    load: "読み込む",
    load_example: "サンプルを開く",
    loading: "読み込み中…",
    loaded: "宛先 {recipients} 件を読み込みました。除外 {rejected} 行。",
    loaded_campaign: "キャンペーンを開きました：宛先 {recipients} 件、除外 {rejected} 行。プレビューできます。",
    no_example: "このインストールにはサンプルのキャンペーンが見つかりません。",
    path_missing: "ファイルのパスを入力するか、「開く…」で選んでください。",
    dialog_title: "宛先リストまたはキャンペーンを開く",
    dialog_filter_lists: "宛先リストとキャンペーン",
    s_file: "ファイル",
    s_encoding: "文字コード",
    s_delimiter: "区切り文字",
    s_email_column: "アドレス列",
    s_recipients: "宛先",
    s_rejected: "除外",
    s_fields: "項目",
    delim_name_tab: "タブ",
    recipients_table_title: "宛先一覧",
    col_row: "行",
    col_email: "メールアドレス",
    col_reason: "理由",
    col_detail: "詳細",
    prev_page: "前のページ",
    next_page: "次のページ",
    page_info: "{total} 件中 {from}–{to} 件",
    rejected_title: "除外された行",
    rejected_none: "すべての行が宛先になりました。",
    reason_invalid_address: "メールアドレスの形式が正しくありません",
    reason_empty_address: "メールアドレスが空です",
    reason_multiple_addresses: "1 つのセルに複数のアドレスがあります",
    reason_duplicate: "アドレスが重複しています",
    reason_malformed_row: "列の数が見出しと合いません",
    reason_suppressed: "配信停止リストにあります（解除・不達）",
    compose_title: "本文作成",
    compose_lead: "メッセージを 1 通書きます。{{ name }} のような差し込み項目は宛先ごとに置き換わります。値のない項目があると、空欄のまま送らずにその宛先のメッセージを止めます。",
    from_name: "差出人名",
    from_address: "差出人アドレス",
    reply_to: "返信先（任意）",
    subject: "件名",
    merge_fields: "差し込み項目（クリックで挿入）",
    merge_fields_empty: "宛先を読み込むと項目が表示されます。",
    text_body: "テキスト本文",
    html_body: "HTML 本文（任意）",
    attachments_from_campaign: "キャンペーンファイルの添付ファイル：{names}",
    apply: "適用",
    applied: "メッセージを保存しました。プレビューで全通を確認してください。",
    preview_title: "プレビュー",
    preview_empty: "宛先を読み込み、本文を適用すると、送信されるとおりの各メッセージがここに表示されます。",
    preview_toolbar: "メッセージの移動",
    first: "最初のメッセージ",
    prev: "前のメッセージ",
    next: "次のメッセージ",
    last: "最後のメッセージ",
    jump_label: "メッセージ番号",
    go: "移動",
    search_label: "アドレスで検索",
    find: "検索",
    not_found: "「{query}」を含むアドレスはありません。",
    jump_invalid: "1 から {total} までの番号を入力してください。",
    counter: "{total} 通中 {index} 通目",
    h_row: "行",
    h_to: "宛先",
    h_subject: "件名",
    h_attachments: "添付ファイル",
    none: "なし",
    text_part: "テキスト",
    html_part: "HTML（スクリプト・外部画像なし）",
    no_html: "このメッセージには HTML パートがありません。",
    raw_source: "送信されるソース（RFC 5322）",
    render_failed: "{row} 行目（{email}）のメッセージを作成できません：",
    error_prefix: "エラー",
    err_io: "ファイルを開けないか、読み込めません。",
    err_invalid_csv: "宛先ファイルをリストとして読み込めません。",
    err_invalid_campaign: "キャンペーンファイルの設定が不足しているか、誤っています。",
    err_template_syntax: "本文テンプレートに誤りがあります。",
    err_missing_field: "この宛先には差し込み項目の値がありません。",
    err_header_injection: "差し込む値に改行や制御文字が含まれ、ヘッダーを壊すおそれがあります。",
    err_invalid_message: "メッセージが安全のための規則に反しています。",
    err_invalid_address: "アドレスが正しいメールボックスではありません。",
    err_check_failed: "チェックを実行できませんでした。",
    err_auth_failed: "サインインできませんでした。",
    err_locked_out: "PIN の誤入力が多すぎます。しばらくしてから再試行してください。",
    err_forbidden: "この操作を行う権限がありません。",
    err_not_approved: "このキャンペーンには有効な承認がありません。",
    err_keychain: "システムのキーチェーンが操作を拒否しました。",
    err_database: "ローカルデータベースでエラーが発生しました。",
    err_audit_broken: "操作ログが改ざんされています。",
    err_send: "送信に失敗しました。",
    err_internal: "予期しないエラーが発生しました。",
  },
};

const STORAGE_KEY = "mergeguard.language";
let current = "en";

function initialLanguage() {
  let saved = null;
  try { saved = localStorage.getItem(STORAGE_KEY); } catch (_) { /* storage may be off */ }
  if (saved && STRINGS[saved]) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("ja") ? "ja" : "en";
}

/** The text for `key` in the current language, with `{name}` placeholders filled. */
export function t(key, params = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** Plain words for an error `{code, message}` from the core. */
export function errorText(error) {
  const key = "err_" + (error && error.code ? error.code : "internal");
  const known = STRINGS[current][key] ?? STRINGS.en[key];
  return known ?? t("err_internal");
}

/** Plain words for a rejection reason. */
export function reasonText(reason) {
  return t("reason_" + reason);
}

export function language() {
  return current;
}

/** Applies the language to every labelled element; `remember` stores the choice. */
export function setLanguage(lang, remember = false) {
  current = STRINGS[lang] ? lang : "en";
  if (remember) {
    try { localStorage.setItem(STORAGE_KEY, current); } catch (_) { /* not fatal */ }
  }
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of document.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  for (const el of document.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

setLanguage(initialLanguage());
