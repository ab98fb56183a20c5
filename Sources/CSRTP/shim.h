// libsrtp2 (Debian libsrtp2-dev): the SRTP/SRTCP transform (RFC 3711).
#include <srtp2/srtp.h>
