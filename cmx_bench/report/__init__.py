"""Reports over run records: Table 5 view (pandas), plots (matplotlib), Markdown / CSV / HTML. Never imports torch or adb."""
