// SIP headers the call server adds for the project's own programs: named once for the call
// server that writes them and the phones and media hosts that read them.

public enum HoldfastHeader {
    /// The call server's id of the call a request belongs to: a phone keeps it as its call's
    /// `serverCall`, a media host names a conference participant by it.
    public static let call = "X-Holdfast-Call"
}
