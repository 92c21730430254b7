// SigV4: the AWS SigV4 test suite (cases copied below; the whole suite from ../shared when it is
// there), and the parts of the signer the suite does not reach (session token, payload hash
// header, ports, unsignable headers, double escaping, repeated query keys).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "agent/aws/sigv4.hpp"

using namespace vigil;
using namespace std::chrono_literals;

namespace sigv4_suite {

struct SuiteCase {
  const char* name;
  const char* request;            // the .req file: request line, headers, blank line, body
  const char* canonical_request;  // .creq
  const char* string_to_sign;     // .sts
  const char* authorization;      // .authz
};

// Copied from the AWS SigV4 test suite (aws-sig-v4-test-suite, Apache-2.0): the request, and the
// canonical request, string to sign and Authorization header AWS expects for it.
const SuiteCase
    kSuiteCases[] =
        {
            {"get-vanilla",
             R"sv4(GET / HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/

host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31)sv4"},
            {"get-header-key-duplicate",
             R"sv4(GET / HTTP/1.1
Host:example.amazonaws.com
My-Header1:value2
My-Header1:value2
My-Header1:value1
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/

host:example.amazonaws.com
my-header1:value2,value2,value1
x-amz-date:20150830T123600Z

host;my-header1;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea)sv4"},
            {"get-header-value-multiline",
             R"sv4(GET / HTTP/1.1
Host:example.amazonaws.com
My-Header1:value1
  value2
     value3
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/

host:example.amazonaws.com
my-header1:value1,value2,value3
x-amz-date:20150830T123600Z

host;my-header1;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
b7b6cbfd8a0430b78891e986784da2630c8a135a8595cec25b26ea94f926ee55)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790)sv4"},
            {"get-header-value-order",
             R"sv4(GET / HTTP/1.1
Host:example.amazonaws.com
My-Header1:value4
My-Header1:value1
My-Header1:value3
My-Header1:value2
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/

host:example.amazonaws.com
my-header1:value4,value1,value3,value2
x-amz-date:20150830T123600Z

host;my-header1;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01)sv4"},
            {"get-header-value-trim",
             R"sv4(GET / HTTP/1.1
Host:example.amazonaws.com
My-Header1: value1
My-Header2: "a   b   c"
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/

host:example.amazonaws.com
my-header1:value1
my-header2:"a b c"
x-amz-date:20150830T123600Z

host;my-header1;my-header2;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736)sv4"},
            {"get-unreserved",
             R"sv4(GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz

host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f)sv4"},
            {"get-utf8",
             R"sv4(GET /ሴ HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/%E1%88%B4

host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85)sv4"},
            {"get-vanilla-query-order-key-case",
             R"sv4(GET /?Param2=value2&Param1=value1 HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/
Param1=value1&Param2=value2
host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500)sv4"},
            {"get-vanilla-query-order-value",
             R"sv4(GET /?Param1=value2&Param1=value1 HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/
Param1=value1&Param1=value2
host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694)sv4"},
            {"get-vanilla-utf8-query",
             R"sv4(GET /?ሴ=bar HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/
%E1%88%B4=bar
host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04)sv4"},
            {"get-relative-relative",
             R"sv4(GET /example1/example2/../.. HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/

host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31)sv4"},
            {"get-slashes",
             R"sv4(GET //example// HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/example/

host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84)sv4"},
            {"get-space",
             R"sv4(GET /example space/ HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/example%20space/

host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741)sv4"},
            {"get-slash-dot-slash",
             R"sv4(GET /./ HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(GET
/

host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31)sv4"},
            {"post-header-value-case",
             R"sv4(POST / HTTP/1.1
Host:example.amazonaws.com
My-Header1:VALUE1
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(POST
/

host:example.amazonaws.com
my-header1:VALUE1
x-amz-date:20150830T123600Z

host;my-header1;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d)sv4"},
            {"post-sts-header-before",
             R"sv4(POST / HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z
X-Amz-Security-Token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==)sv4",
             R"sv4(POST
/

host:example.amazonaws.com
x-amz-date:20150830T123600Z
x-amz-security-token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==

host;x-amz-date;x-amz-security-token
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead)sv4"},
            {"post-sts-header-after",
             R"sv4(POST / HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(POST
/

host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b)sv4"},
            {"post-vanilla-empty-query-value",
             R"sv4(POST /?Param1=value1 HTTP/1.1
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z)sv4",
             R"sv4(POST
/
Param1=value1
host:example.amazonaws.com
x-amz-date:20150830T123600Z

host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11)sv4"},
            {"post-x-www-form-urlencoded-parameters",
             R"sv4(POST / HTTP/1.1
Content-Type:application/x-www-form-urlencoded; charset=utf-8
Host:example.amazonaws.com
X-Amz-Date:20150830T123600Z

Param1=value1)sv4",
             R"sv4(POST
/
Param1=value1
content-type:application/x-www-form-urlencoded; charset=utf-8
host:example.amazonaws.com
x-amz-date:20150830T123600Z

content-type;host;x-amz-date
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)sv4",
             R"sv4(AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/service/aws4_request
5a4a15e664c6705d500b13808c1c0e2e83f6a4748f1110a980051440f5a0d9f9)sv4",
             R"sv4(AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ad1ac0c5fa1793b9b9d23894903b9ce84044d014533a633091e12c840473b393)sv4"},
};

// The suite's credentials, region and service.
aws::Credentials suite_credentials(bool with_token) {
  aws::Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  if (with_token) {
    c.session_token =
        "AQoDYXdzEPT//////////"
        "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YU"
        "uwthAx7mSEI/qkPpKPi/"
        "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8"
        "YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
        "scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2"
        "ICCR/oLxBA==";
  }
  return c;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// Parses "20150830T123600Z".
std::chrono::system_clock::time_point parse_amz_date(const std::string& s) {
  std::tm tm{};
  std::istringstream in(s);
  in >> std::get_time(&tm, "%Y%m%dT%H%M%SZ");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// A parsed .req file, ready to sign.
struct ParsedRequest {
  aws::SignableRequest request;
  std::string body;
  aws::SigningOptions options;
  bool ok = false;
  std::string error;
};

// Request line "METHOD target HTTP/1.1" (the target may hold spaces), headers "Name:value" where
// a line starting with white space continues the header before it with one more value (the
// suite expects those values joined with ","), an empty line, the body.
ParsedRequest parse_req(const std::string& text) {
  ParsedRequest out;
  out.options.region = "us-east-1";
  out.options.service = "service";
  std::vector<std::string> lines;
  std::size_t pos = 0;
  bool in_body = false;
  while (pos <= text.size()) {
    const auto nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    if (in_body) {
      if (!out.body.empty()) out.body += "\n";
      out.body += line;
      continue;
    }
    if (line.empty() && !lines.empty()) {
      in_body = true;
      continue;
    }
    lines.push_back(line);
  }
  if (lines.empty()) {
    out.error = "empty request";
    return out;
  }
  const std::string& request_line = lines.front();
  const auto first_space = request_line.find(' ');
  const auto last_space = request_line.rfind(' ');
  if (first_space == std::string::npos || last_space <= first_space) {
    out.error = "bad request line: " + request_line;
    return out;
  }
  out.request.method = request_line.substr(0, first_space);
  const std::string target = request_line.substr(first_space + 1, last_space - first_space - 1);
  std::string host;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.front() == ' ' || line.front() == '\t') {
      if (out.request.headers.empty()) {
        out.error = "continuation line before any header";
        return out;
      }
      out.request.headers.emplace_back(out.request.headers.back().first, trim(line));
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      out.error = "bad header line: " + line;
      return out;
    }
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    std::string lower_name = name;
    std::transform(lower_name.begin(), lower_name.end(), lower_name.begin(), ::tolower);
    if (lower_name == "host") host = trim(value);
    if (lower_name == "x-amz-date") out.options.time = parse_amz_date(trim(value));
    out.request.headers.emplace_back(std::move(name), std::move(value));
  }
  if (host.empty()) {
    out.error = "no Host header";
    return out;
  }
  out.request.url = "https://" + host + target;
  out.ok = true;
  return out;
}

struct Outcome {
  aws::Signature signature;
  std::string authorization;
};

// Signs a suite request the way the suite means it.
Outcome sign_suite_case(const std::string& name, ParsedRequest& parsed) {
  // post-sts-header-after adds the token after signing, which is signing without one.
  const bool token = name == "post-sts-header-before";
  // The suite reads a form-encoded body as query parameters and hashes an empty payload.
  for (const auto& [n, v] : parsed.request.headers) {
    std::string l = n;
    std::transform(l.begin(), l.end(), l.begin(), ::tolower);
    if (l == "content-type" && v.find("application/x-www-form-urlencoded") != std::string::npos &&
        !parsed.body.empty()) {
      parsed.request.url += (parsed.request.url.find('?') == std::string::npos ? "?" : "&") + parsed.body;
      parsed.body.clear();
    }
  }
  parsed.request.body = parsed.body;
  Outcome out;
  out.signature = aws::sign(parsed.request, suite_credentials(token), parsed.options);
  for (const auto& [n, v] : out.signature.headers) {
    if (n == "authorization") out.authorization = v;
  }
  return out;
}

// Signs the suite's request the way the suite means it; compares with what AWS expects.
void check_suite_case(const std::string& name, const std::string& request,
                      const std::string& canonical_request, const std::string& string_to_sign,
                      const std::string& authorization) {
  ParsedRequest parsed = parse_req(request);
  REQUIRE_MESSAGE(parsed.ok, parsed.error);
  const Outcome out = sign_suite_case(name, parsed);
  CHECK(out.signature.canonical_request == canonical_request);
  CHECK(out.signature.string_to_sign == string_to_sign);
  CHECK(out.authorization == authorization);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace sigv4_suite

using namespace sigv4_suite;

TEST_CASE("sigv4: cases of the AWS SigV4 test suite") {
  for (const SuiteCase& c : kSuiteCases) {
    CAPTURE(c.name);
    check_suite_case(c.name, c.request, c.canonical_request, c.string_to_sign, c.authorization);
  }
}

TEST_CASE("sigv4: the whole AWS SigV4 test suite, when ../shared/testdata/sigv4 is there") {
  const std::filesystem::path root = VIGIL_SIGV4_SUITE_DIR;
  if (!std::filesystem::is_directory(root)) {
    MESSAGE("skipped: " << root.string() << " does not exist");
    return;
  }
  int ran = 0;
  int skipped = 0;
  std::vector<std::filesystem::path> reqs;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && entry.path().extension() == ".req") reqs.push_back(entry.path());
  }
  std::sort(reqs.begin(), reqs.end());
  for (const auto& req : reqs) {
    const std::string name = req.stem().string();
    // Its canonical request signs content-type in the header block but not in SignedHeaders.
    if (name == "post-x-www-form-urlencoded") {
      ++skipped;
      continue;
    }
    CAPTURE(name);
    auto sibling = [&](const char* ext) {
      std::filesystem::path p = req;
      p.replace_extension(ext);
      return p;
    };
    REQUIRE(std::filesystem::exists(sibling(".creq")));
    check_suite_case(name, read_file(req), read_file(sibling(".creq")), read_file(sibling(".sts")),
                     read_file(sibling(".authz")));
    ++ran;
  }
  MESSAGE("AWS SigV4 test suite: " << ran << " cases ran, " << skipped << " skipped, from " << root.string());
  CHECK(ran >= 25);
  CHECK(skipped == 1);
}

namespace {

aws::Credentials test_credentials() {
  aws::Credentials c;
  c.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  c.provider = "environment";
  return c;
}

aws::SigningOptions test_options() {
  aws::SigningOptions o;
  o.region = "eu-west-1";
  o.service = "logs";
  o.time = std::chrono::system_clock::from_time_t(1700000000);  // 20231114T221320Z
  return o;
}

const std::string* find(const aws::Headers& headers, const std::string& name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

// The canonical request's lines.
std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("sigv4: sha256_hex") {
  CHECK(aws::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(aws::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(aws::sha256_hex(std::string(1'000'000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sigv4: describe() shortens the key ID and never shows the secret") {
  aws::Credentials c = test_credentials();
  c.session_token = "FwoGZXIvYXdzEXAMPLETOKEN";
  const std::string d = c.describe();
  CHECK(d == "AKIA\xE2\x80\xA6MPLE from environment");
  CHECK(d.find(c.secret_access_key) == std::string::npos);
  CHECK(d.find(c.session_token) == std::string::npos);
  aws::Credentials none;
  CHECK(none.describe() == "(no access key)");
  CHECK(none.empty());
  CHECK_FALSE(c.empty());
}

TEST_CASE("sigv4: the headers to add and the Authorization") {
  aws::SignableRequest r;
  r.method = "POST";
  r.url = "https://logs.eu-west-1.amazonaws.com/";
  r.headers = {{"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "Logs_20140328.PutLogEvents"}};
  r.body = R"({"logGroupName":"g"})";
  const aws::Signature s = aws::sign(r, test_credentials(), test_options());
  REQUIRE(find(s.headers, "host") != nullptr);
  CHECK(*find(s.headers, "host") == "logs.eu-west-1.amazonaws.com");
  CHECK(*find(s.headers, "x-amz-date") == "20231114T221320Z");
  CHECK(find(s.headers, "x-amz-security-token") == nullptr);
  CHECK(find(s.headers, "x-amz-content-sha256") == nullptr);
  const std::string* auth = find(s.headers, "authorization");
  REQUIRE(auth != nullptr);
  CHECK(*auth ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20231114/eu-west-1/logs/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" +
            s.signature);
  CHECK(s.signature.size() == 64);
  CHECK(lines_of(s.canonical_request).back() == aws::sha256_hex(r.body));
  CHECK(lines_of(s.string_to_sign) == std::vector<std::string>{"AWS4-HMAC-SHA256", "20231114T221320Z",
                                                               "20231114/eu-west-1/logs/aws4_request",
                                                               aws::sha256_hex(s.canonical_request)});

  // Any change to a signed part changes the signature.
  aws::SignableRequest other = r;
  other.body = R"({"logGroupName":"h"})";
  CHECK(aws::sign(other, test_credentials(), test_options()).signature != s.signature);
  aws::SigningOptions later = test_options();
  later.time += 1s;
  CHECK(aws::sign(r, test_credentials(), later).signature != s.signature);
  // Below a second nothing changes: the date has whole seconds.
  aws::SigningOptions fraction = test_options();
  fraction.time += 999ms;
  CHECK(aws::sign(r, test_credentials(), fraction).signature == s.signature);
}

TEST_CASE("sigv4: a session token is signed and added") {
  aws::Credentials c = test_credentials();
  c.session_token = "session/token+value==";
  aws::SignableRequest r;
  r.method = "GET";
  r.url = "https://sts.amazonaws.com/";
  // One already in the request is replaced by the credentials' own.
  r.headers = {{"X-Amz-Security-Token", "stale"}};
  const aws::Signature s = aws::sign(r, c, test_options());
  REQUIRE(find(s.headers, "x-amz-security-token") != nullptr);
  CHECK(*find(s.headers, "x-amz-security-token") == c.session_token);
  CHECK(s.canonical_request.find("x-amz-security-token:session/token+value==\n") != std::string::npos);
  CHECK(s.canonical_request.find("stale") == std::string::npos);
  CHECK(find(s.headers, "authorization")->find("SignedHeaders=host;x-amz-date;x-amz-security-token,") !=
        std::string::npos);
}

TEST_CASE("sigv4: x-amz-content-sha256 and the payload hash") {
  aws::SignableRequest r;
  r.method = "PUT";
  r.url = "https://bucket.s3.amazonaws.com/key";
  r.body = "hello";
  aws::SigningOptions o = test_options();
  o.add_content_sha256 = true;
  aws::Signature s = aws::sign(r, test_credentials(), o);
  REQUIRE(find(s.headers, "x-amz-content-sha256") != nullptr);
  CHECK(*find(s.headers, "x-amz-content-sha256") == aws::sha256_hex("hello"));
  CHECK(s.canonical_request.find("x-amz-content-sha256:" + aws::sha256_hex("hello")) != std::string::npos);

  o.payload_hash = "UNSIGNED-PAYLOAD";
  s = aws::sign(r, test_credentials(), o);
  CHECK(*find(s.headers, "x-amz-content-sha256") == "UNSIGNED-PAYLOAD");
  CHECK(lines_of(s.canonical_request).back() == "UNSIGNED-PAYLOAD");

  // A hash header the request already has is the payload hash, and is not added twice.
  r.headers = {{"X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}};
  s = aws::sign(r, test_credentials(), o);
  CHECK(find(s.headers, "x-amz-content-sha256") == nullptr);
  CHECK(lines_of(s.canonical_request).back() == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
}

TEST_CASE("sigv4: the host header from the URL") {
  aws::SignableRequest r;
  r.method = "GET";
  auto host_of = [&](const std::string& url) {
    r.url = url;
    const aws::Signature s = aws::sign(r, test_credentials(), test_options());
    const std::string* h = find(s.headers, "host");
    return h == nullptr ? std::string("<none>") : *h;
  };
  CHECK(host_of("https://example.com") == "example.com");
  CHECK(host_of("https://example.com:443/x") == "example.com");
  CHECK(host_of("http://example.com:80/x") == "example.com");
  CHECK(host_of("http://127.0.0.1:4318/v1/logs") == "127.0.0.1:4318");
  CHECK(host_of("https://example.com:80/") == "example.com:80");
  CHECK(host_of("http://[::1]:8080/a?b=c") == "[::1]:8080");
  CHECK(host_of("http://user:pw@example.com/") == "example.com");
  // A host header in the request is signed as it is, and none is added.
  r.url = "http://127.0.0.1:9/";
  r.headers = {{"Host", "logs.us-east-1.amazonaws.com"}};
  const aws::Signature s = aws::sign(r, test_credentials(), test_options());
  CHECK(find(s.headers, "host") == nullptr);
  CHECK(s.canonical_request.find("host:logs.us-east-1.amazonaws.com\n") != std::string::npos);
}

TEST_CASE("sigv4: unsignable and generated headers") {
  aws::SignableRequest r;
  r.method = "POST";
  r.url = "https://example.com/";
  r.headers = {{"User-Agent", "vigil/1"},     {"Connection", "keep-alive"},
               {"Authorization", "Bearer x"}, {"X-Amz-Date", "19990101T000000Z"},
               {"Date", "yesterday"},         {"Proxy-Authorization", "p"},
               {"Sec-Fetch-Mode", "cors"},    {"X-Amzn-Trace-Id", "Root=1"},
               {"Content-Length", "0"},       {"X-Custom", "  a \t  b\r\n c  "}};
  const aws::Signature s = aws::sign(r, test_credentials(), test_options());
  const auto lines = lines_of(s.canonical_request);
  CHECK(lines[3] == "content-length:0");
  CHECK(lines[4] == "host:example.com");
  CHECK(lines[5] == "x-amz-date:20231114T221320Z");
  CHECK(lines[6] == "x-custom:a b c");
  CHECK(lines[7] == "");
  CHECK(lines[8] == "content-length;host;x-amz-date;x-custom");
}

TEST_CASE("sigv4: the path is normalized and escaped once more") {
  aws::SignableRequest r;
  r.method = "GET";
  auto path_of = [&](const std::string& url, bool escape = true) {
    r.url = url;
    aws::SigningOptions o = test_options();
    o.uri_escape_path = escape;
    return lines_of(aws::sign(r, test_credentials(), o).canonical_request)[1];
  };
  CHECK(path_of("https://h/") == "/");
  CHECK(path_of("https://h") == "/");
  CHECK(path_of("https://h/a%20b/c") == "/a%2520b/c");
  CHECK(path_of("https://h/a b/!'()*") == "/a%20b/%21%27%28%29%2A");
  CHECK(path_of("https://h//a/./b/../c//") == "/a/c/");
  CHECK(path_of("https://h/a/../..") == "/");
  CHECK(path_of("https://h/~user/x-y_z.json") == "/~user/x-y_z.json");
  CHECK(path_of("https://h/a:b@c,d;e=f+g$") == "/a%3Ab%40c%2Cd%3Be%3Df%2Bg%24");
  CHECK(path_of("https://h/v1/traces?x=1#frag") == "/v1/traces");
  // S3: as it is.
  CHECK(path_of("https://h//a/./b%20c", false) == "//a/./b%20c");
}

TEST_CASE("sigv4: the query is decoded, escaped and sorted") {
  aws::SignableRequest r;
  r.method = "GET";
  auto query_of = [&](const std::string& url) {
    r.url = url;
    return lines_of(aws::sign(r, test_credentials(), test_options()).canonical_request)[2];
  };
  CHECK(query_of("https://h/") == "");
  CHECK(query_of("https://h/?") == "");
  CHECK(query_of("https://h/?b=2&a=1") == "a=1&b=2");
  CHECK(query_of("https://h/?a=z&a=b&a=") == "a=&a=b&a=z");
  CHECK(query_of("https://h/?flag&x=") == "flag=&x=");
  CHECK(query_of("https://h/?k%20ey=v%2fw") == "k%20ey=v%2Fw");
  CHECK(query_of("https://h/?a=b c&d=*!") == "a=b%20c&d=%2A%21");
  CHECK(query_of("https://h/?p=a+b") == "p=a%2Bb");
  CHECK(query_of("https://h/?p=%zz") == "p=%25zz");
  CHECK(query_of("https://h/?B=1&a=2&_=3") == "B=1&_=3&a=2");
  CHECK(query_of("https://h/?a&&b=1") == "a=&b=1");
  CHECK(query_of("https://h/?X-Amz-Signature=abc&x=1") == "x=1");
}
