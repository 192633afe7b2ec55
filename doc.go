package ginsession

// A reader's map of the package: how one request runs through the files,
// in the order the code runs (a login as the example; each file's own
// comment says more).
//
//	manager.go      New/NewManager: options.go and validate.go check the Options, storeclient.go builds
//	                the client (memcluster/ for several servers); Handler gives each request a Session, no I/O
//	writer.go       the hook installed as c.Writer, so the commit runs just before the header
//	ginsession.go   Default and the Session methods, each through with()
//	load.go         the first use: cookie.go verifies the cookie (cookiememo.go remembers the verdict),
//	                store.go reads the record: Client.Get, recordmac.go checks its seal (recordmemo.go,
//	                slots.go), record.go decodes it (wire.go), expiry.go says whether it is alive
//	state.go        what each method changes: values (encoded by codec.go), metadata, ID, cookie action
//	auth.go         Authenticated, User, Login (regenerate + user + Save), Logout; stamp.go checks stamps
//	response.go     when to commit (before the header, at the end, after it); cachepolicy.go keeps the
//	                cookie out of shared caches
//	failure.go      the one path of a store failure: logged, on c.Errors, answered by the ErrorHandler
//	                (errorpage.go holds the default) as where it happened and the phase allow
//	store.go        the only code calling the Client: Add for a new ID, CompareAndSwap with re-read and
//	                merge (state.go replay) for a stored one, deletes; expiry.go computes the expiration
//	                from the record written, record.go encodes it and recordmac.go seals it
//	storeindex.go   with TrackSessions, the user's session list (userindex.go) around a login or logout;
//	                sessions.go lists and ends sessions, device.go names the client
//	observe.go      the Observe events (observeclient.go times each Client call); logging.go rate-limits
//	                fault logs; errors.go and names.go hold sentinel errors and enum names
