// Package browser proves that the Microsoft Graph JavaScript client's browser bundle, in a web page of
// another origin, works against activityd over TLS: its test drives Debian's headless Chromium with
// chromedp through a page that creates and lists activities, and checks that a page of an origin that
// --cors-origins does not list is refused by the browser. Its other tests drive the timeline page, and
// the sign-in of an app (authorization code with PKCE) through the sign-in, consent and devices pages
// to the app's loopback redirect URI. It is a module of its own so that activityd
// itself does not depend on chromedp; the test builds and starts the real activityd binary.
//
// It needs /usr/bin/chromium and the npm packages of compat/js (npm ci there). Without them the test
// fails, naming what is missing, unless ACTIVITYD_SKIP_BROWSER=1. Screenshots of the pages go to the
// directory in ACTIVITYD_ARTIFACTS (a temporary directory otherwise).
package browser
