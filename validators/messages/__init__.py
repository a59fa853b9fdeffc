"""Norwegian XML messages: the MsgHead envelope, its payloads, AppRec; schema and rule layers."""
