package importer

import (
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// The tables of ActivitiesCache.db as Windows creates them, from plaso's parser
// (plaso/parsers/sqlite_plugins/windows_timeline.py, SCHEMAS): Windows 10 1803, and a later build that
// adds UserActionState, IsRead, GroupItems (and, to ActivityOperation, OperationExpirationTime,
// UploadAllowedByPolicy and PatchFields).
const (
	schema1803 = `CREATE TABLE [Activity]([Id] GUID PRIMARY KEY NOT NULL, [AppId] TEXT NOT NULL,
[PackageIdHash] TEXT, [AppActivityId] TEXT, [ActivityType] INT NOT NULL, [ActivityStatus] INT NOT NULL,
[ParentActivityId] GUID, [Tag] TEXT, [Group] TEXT, [MatchId] TEXT, [LastModifiedTime] DATETIME NOT NULL,
[ExpirationTime] DATETIME, [Payload] BLOB, [Priority] INT, [IsLocalOnly] INT, [PlatformDeviceId] TEXT,
[CreatedInCloud] DATETIME, [StartTime] DATETIME, [EndTime] DATETIME, [LastModifiedOnClient] DATETIME,
[GroupAppActivityId] TEXT, [ClipboardPayload] BLOB, [EnterpriseId] TEXT, [OriginalPayload] BLOB,
[OriginalLastModifiedOnClient] DATETIME, [ETag] INT NOT NULL);
CREATE TABLE [ActivityOperation]([OperationOrder] INTEGER PRIMARY KEY ASC NOT NULL, [Id] GUID NOT NULL,
[OperationType] INT NOT NULL, [AppId] TEXT NOT NULL, [PackageIdHash] TEXT, [AppActivityId] TEXT,
[ActivityType] INT NOT NULL, [ParentActivityId] GUID, [Tag] TEXT, [Group] TEXT, [MatchId] TEXT,
[LastModifiedTime] DATETIME NOT NULL, [ExpirationTime] DATETIME, [Payload] BLOB, [Priority] INT,
[CreatedTime] DATETIME, [Attachments] TEXT, [PlatformDeviceId] TEXT, [CreatedInCloud] DATETIME,
[StartTime] DATETIME NOT NULL, [EndTime] DATETIME, [LastModifiedOnClient] DATETIME NOT NULL,
[CorrelationVector] TEXT, [GroupAppActivityId] TEXT, [ClipboardPayload] BLOB, [EnterpriseId] TEXT,
[OriginalPayload] BLOB, [OriginalLastModifiedOnClient] DATETIME, [ETag] INT NOT NULL);`

	schema2004 = `CREATE TABLE [Activity]([Id] GUID PRIMARY KEY NOT NULL, [AppId] TEXT NOT NULL,
[PackageIdHash] TEXT, [AppActivityId] TEXT, [ActivityType] INT NOT NULL, [ActivityStatus] INT NOT NULL,
[ParentActivityId] GUID, [Tag] TEXT, [Group] TEXT, [MatchId] TEXT, [LastModifiedTime] DATETIME NOT NULL,
[ExpirationTime] DATETIME, [Payload] BLOB, [Priority] INT, [IsLocalOnly] INT, [PlatformDeviceId] TEXT,
[CreatedInCloud] DATETIME, [StartTime] DATETIME, [EndTime] DATETIME, [LastModifiedOnClient] DATETIME,
[GroupAppActivityId] TEXT, [ClipboardPayload] BLOB, [EnterpriseId] TEXT, [OriginalPayload] BLOB,
[UserActionState] INT,[IsRead] INT,[OriginalLastModifiedOnClient] DATETIME, [GroupItems] TEXT,
[ETag] INT NOT NULL);
CREATE TABLE [ActivityOperation]([OperationOrder] INTEGER PRIMARY KEY ASC NOT NULL, [Id] GUID NOT NULL,
[OperationType] INT NOT NULL, [AppId] TEXT NOT NULL, [PackageIdHash] TEXT, [AppActivityId] TEXT,
[ActivityType] INT NOT NULL, [ParentActivityId] GUID, [Tag] TEXT, [Group] TEXT, [MatchId] TEXT,
[LastModifiedTime] DATETIME NOT NULL, [ExpirationTime] DATETIME, [Payload] BLOB, [Priority] INT,
[CreatedTime] DATETIME, [OperationExpirationTime] DATETIME,[Attachments] TEXT, [PlatformDeviceId] TEXT,
[CreatedInCloud] DATETIME, [StartTime] DATETIME NOT NULL, [EndTime] DATETIME,
[LastModifiedOnClient] DATETIME NOT NULL, [CorrelationVector] TEXT, [GroupAppActivityId] TEXT,
[ClipboardPayload] BLOB, [EnterpriseId] TEXT, [UserActionState] INT,[IsRead] INT,[OriginalPayload] BLOB,
[OriginalLastModifiedOnClient] DATETIME, [UploadAllowedByPolicy] INT NOT NULL DEFAULT 1,
[PatchFields] BLOB, [GroupItems] TEXT, [ETag] INT NOT NULL);`
)

// tlRow is a row to insert into Activity, or into ActivityOperation when op is set.
type tlRow struct {
	op                  bool
	id                  string // 32 hex digits
	app, aid            string // AppId JSON, AppActivityId
	typ, state          int    // ActivityType; ActivityStatus or OperationType
	start, end, lm, exp string // RFC 3339, or ""
	payload             any
}

func createTimeline(t *testing.T, db *sql.DB, schema string) {
	t.Helper()
	for _, stmt := range strings.Split(schema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
}

func unix(s string) int64 {
	if s == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

func insertRows(t *testing.T, db *sql.DB, rows ...tlRow) {
	t.Helper()
	for _, r := range rows {
		id, err := hex.DecodeString(r.id)
		if err != nil {
			t.Fatal(err)
		}
		args := []any{id, r.state, r.app, r.aid, r.typ, unix(r.lm), unix(r.exp), r.payload, unix(r.start), unix(r.end)}
		if r.op {
			_, err = db.Exec(`INSERT INTO ActivityOperation (Id, OperationType, AppId, AppActivityId, ActivityType,
				LastModifiedTime, ExpirationTime, Payload, StartTime, EndTime, LastModifiedOnClient, ETag)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`, append(args, unix(r.lm))...)
		} else {
			_, err = db.Exec(`INSERT INTO Activity (Id, ActivityStatus, AppId, AppActivityId, ActivityType,
				LastModifiedTime, ExpirationTime, Payload, StartTime, EndTime, ETag)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`, args...)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

const (
	wordApp  = `[{"application":"{7C5A40EF-A0FB-4BFC-874A-C0F2E0B9FA8E}\\Microsoft Office\\root\\Office16\\WINWORD.EXE","platform":"windows_win32"},{"application":"Microsoft.Office.WINWORD.EXE.15","platform":"packageId"},{"application":"","platform":"alternateId"}]`
	notesApp = `[{"application":"Contoso.Notes_8wekyb3d8bbwe!App","platform":"windows_universal"},{"application":"Contoso.Notes_8wekyb3d8bbwe!App","platform":"packageId"}]`
	engaged  = `{"type":"UserEngaged","reportingApp":"ShellActivityMonitor","activeDurationSeconds":900,"userTimezone":"Europe/Berlin"}`
)

// settingsRows are an activity and its one session, as in a 1803 database.
func settingsRows() []tlRow {
	return []tlRow{
		{id: "f1000000000000000000000000000000", app: notesApp, aid: "note-1", typ: 5, state: 1,
			start: "2024-03-01T09:00:00Z", lm: "2024-03-01T09:00:00Z", exp: "2024-03-31T09:00:00Z",
			payload: []byte(`{"displayText":"Groceries","activationUri":"contoso-notes:note-1","backgroundColor":"navy"}`)},
		{id: "f2000000000000000000000000000000", app: notesApp, aid: "note-1", typ: 6, state: 1,
			start: "2024-03-01T09:00:00Z", end: "2024-03-01T09:05:00Z", lm: "2024-03-01T09:05:00Z", payload: []byte(engaged)},
	}
}

// layout2004Rows are the rows of TestWindowsTimeline_Layout2004: each case a row or two.
func layout2004Rows() []tlRow {
	word2 := `{"displayText":"Report v2.docx","description":"C:\\Users\\me\\Report.docx","appDisplayName":"Word","backgroundColor":"#0F0",` +
		`"activationUri":"ms-word:ofe|u|https://contoso.sharepoint.com/Report.docx","contentUri":"https://contoso.sharepoint.com/Report.docx",` +
		`"fallbackUri":"https://contoso.sharepoint.com/"}`
	return []tlRow{
		// An activity with a session, whose newer version waits in ActivityOperation.
		{id: "a1000000000000000000000000000000", app: wordApp, aid: "word-report", typ: 5, state: 1,
			start: "2024-03-01T10:00:00Z", lm: "2024-03-01T10:00:00Z", exp: "2024-03-31T10:00:00Z",
			payload: []byte(`{"displayText":"Report.docx","activationUri":"ms-word:ofe|u|https://contoso.sharepoint.com/Report.docx"}`)},
		{id: "a2000000000000000000000000000000", app: wordApp, aid: "word-report", typ: 6, state: 1,
			start: "2024-03-01T10:00:00Z", end: "2024-03-01T10:20:00Z", lm: "2024-03-01T10:20:00Z", exp: "2024-03-31T10:00:00Z",
			payload: []byte(engaged)},
		{op: true, id: "a1000000000000000000000000000000", app: wordApp, aid: "word-report", typ: 5, state: 2,
			start: "2024-03-01T10:00:00Z", lm: "2024-03-01T10:30:00Z", exp: "2024-03-31T10:00:00Z", payload: []byte(word2)},
		// An activity made on this device, not yet uploaded, without an AppActivityId.
		{op: true, id: "b1000000000000000000000000000000", app: notesApp, typ: 5, state: 1,
			start: "2024-03-01T11:00:00Z", lm: "2024-03-01T11:00:00Z", payload: `{"displayText":"Pending"}`},
		// An activity deleted on the device, and its session.
		{id: "c1000000000000000000000000000000", app: notesApp, aid: "gone", typ: 5, state: 1,
			start: "2024-03-01T12:00:00Z", lm: "2024-03-01T12:00:00Z", payload: []byte(`{"displayText":"Gone"}`)},
		{id: "c2000000000000000000000000000000", app: notesApp, aid: "gone", typ: 6, state: 1,
			start: "2024-03-01T12:00:00Z", end: "2024-03-01T12:01:00Z", lm: "2024-03-01T12:01:00Z", payload: []byte(engaged)},
		{op: true, id: "c1000000000000000000000000000000", app: notesApp, aid: "gone", typ: 5, state: 3,
			start: "2024-03-01T12:00:00Z", lm: "2024-03-01T12:02:00Z", payload: []byte(`{"displayText":"Gone"}`)},
		// Clipboard, and a session without its activity.
		{id: "d1000000000000000000000000000000", app: notesApp, aid: "clip", typ: 10, state: 1,
			start: "2024-03-01T13:00:00Z", lm: "2024-03-01T13:00:00Z", payload: []byte(`{"clipboardDataId":"x"}`)},
		{id: "d2000000000000000000000000000000", app: notesApp, aid: "orphan", typ: 6, state: 1,
			start: "2024-03-01T13:00:00Z", end: "2024-03-01T13:01:00Z", lm: "2024-03-01T13:01:00Z", payload: []byte(engaged)},
		// A payload that is not JSON, and the session of its activity.
		{id: "e1000000000000000000000000000000", app: notesApp, aid: "bad", typ: 5, state: 1,
			start: "2024-03-01T14:00:00Z", lm: "2024-03-01T14:00:00Z", payload: []byte(`{"displayText": "cut`)},
		{id: "e2000000000000000000000000000000", app: notesApp, aid: "bad", typ: 6, state: 1,
			start: "2024-03-01T14:00:00Z", end: "2024-03-01T14:01:00Z", lm: "2024-03-01T14:01:00Z", payload: []byte(engaged)},
	}
}
