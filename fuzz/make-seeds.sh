#!/bin/sh
# Writes the seed inputs of the libFuzzer targets into <outdir>/<target>/ (perl: always on Debian).
# Usage: sh fuzz/make-seeds.sh [outdir]   (default fuzz/corpus). To add them to a minimized corpus:
#   sh fuzz/make-seeds.sh /tmp/seeds && build/fuzz/fuzz_x -merge=1 fuzz/corpus/fuzz_x /tmp/seeds/fuzz_x
set -eu
out=${1:-fuzz/corpus}
mkdir -p "$out/fuzz_json_body" "$out/fuzz_ws_frames"

# --- fuzz_json_body: one JSON text a file ---
j=$out/fuzz_json_body
printf '{}' >"$j/empty-object"
printf '[]' >"$j/empty-array"
printf '{"name":"Ada","age":36,"tags":["a","b"],"ok":true,"none":null,"pi":3.14159}' >"$j/object"
printf '{"a":1,"a":2}' >"$j/duplicate-key"
printf '{"s":"caf\\u00e9 \\ud83d\\ude00 \\n\\t\\"\\\\ \\/"}' >"$j/escapes"
printf '{"s":"caf\303\251 \360\237\230\200"}' >"$j/utf8"
printf '{"s":"\303\050"}' >"$j/bad-utf8"
printf '{"n":[0,-0,1e308,-1.5e-300,9223372036854775807,-9223372036854775808,0.1]}' >"$j/numbers"
printf '{"n":9223372036854775808}' >"$j/int-overflow"
printf '{"s":"a\\u0000b"}' >"$j/nul-escape"
printf '{"a":1} x' >"$j/trailing-garbage"
printf '"just a string"' >"$j/scalar"
printf '{"a":[1,2,' >"$j/truncated"
printf '{"k":"[[[[{{{{"}' >"$j/brackets-in-string"
perl -e 'print "[" x 32, "]" x 32' >"$j/depth-32"
perl -e 'print "[" x 33, "]" x 33' >"$j/depth-33"
perl -e 'print "{\"a\":" x 20, "1", "}" x 20' >"$j/nested-objects"
perl -e 'print "{\"k\":\"", "x" x 1000, "\"}"' >"$j/long-string"
perl -e 'print "[", join(",", 1..500), "]"' >"$j/long-array"

# --- fuzz_ws_frames: byte 0 = control (low 7 bits: how many following bytes arrive as the
# handshake's extra bytes; bit 7: the client shuts at once instead of waiting for the replies),
# then client frames (masked, RFC 6455 5.2) ---
w=$out/fuzz_ws_frames
# gen CONTROL PERL-EXPR: frame(FIN, OPCODE, PAYLOAD, [MASKED=1], [RSV=0]) is one frame,
# hdr(OPCODE, LEN, FOLLOW) a header announcing LEN bytes followed by only FOLLOW of them.
gen() {
    perl -e '
        my $key = pack("C4", 0x37, 0xfa, 0x21, 0x3d);
        sub frame {
            my ($fin, $op, $payload, $masked, $rsv) = @_;
            $masked = 1 unless defined $masked;
            $rsv ||= 0;
            my $b0 = ($fin ? 0x80 : 0) | ($rsv << 4) | $op;
            my $len = length $payload;
            my $mbit = $masked ? 0x80 : 0;
            my $h = pack("C", $b0);
            if ($len < 126)      { $h .= pack("C", $mbit | $len) }
            elsif ($len < 65536) { $h .= pack("Cn", $mbit | 126, $len) }
            else                 { $h .= pack("CQ>", $mbit | 127, $len) }
            return $h . $payload unless $masked;
            my $m = $payload ^ substr($key x (int($len / 4) + 1), 0, $len);
            return $h . $key . $m;
        }
        sub hdr {   # a header announcing len bytes, with only some of them following
            my ($op, $len, $follow) = @_;
            return pack("CCQ>", 0x80 | $op, 0x80 | 127, $len) . $key . ("x" x $follow);
        }
        binmode STDOUT;
        my $extra = shift @ARGV;
        print pack("C", $extra);
        print eval join("", @ARGV);
        die $@ if $@;
    ' "$@"
}
gen 0 'frame(1, 1, "hello")' >"$w/text-hello"
gen 0 'frame(1, 2, join("", map { chr } 0..255))' >"$w/binary"
gen 0 'frame(1, 9, "ping")' >"$w/ping"
gen 0 'frame(1, 10, "pong")' >"$w/unsolicited-pong"
gen 0 'frame(0, 1, "hel") . frame(1, 0, "lo")' >"$w/fragmented"
gen 0 'frame(0, 2, "ab") . frame(1, 9, "in-between") . frame(0, 0, "cd") . frame(1, 0, "ef")' >"$w/fragmented-ping"
gen 0 'frame(1, 8, pack("n", 1000) . "done")' >"$w/close-1000"
gen 0 'frame(1, 8, "")' >"$w/close-empty"
gen 0 'frame(1, 8, "x")' >"$w/close-1-byte"
gen 0 'frame(1, 8, pack("n", 1005))' >"$w/close-1005"
gen 0 'frame(1, 8, pack("n", 1000) . "\xc3\x28")' >"$w/close-bad-utf8-reason"
gen 0 'frame(1, 1, "one") . frame(1, 2, "two") . frame(1, 8, pack("n", 1000))' >"$w/several"
gen 0 'frame(1, 1, "bye")' >"$w/server-closes"
gen 0 'frame(1, 1, "bye") . frame(1, 1, "after close")' >"$w/after-server-close"
gen 0 'hdr(2, 65537, 16)' >"$w/oversize-64bit-length"
gen 0 'hdr(2, 0x7fffffffffffffff, 8)' >"$w/huge-64bit-length"
gen 0 'frame(1, 1, "x" x 300)' >"$w/text-16bit-length"
gen 0 'frame(1, 1, "\xc3\x28")' >"$w/invalid-utf8"
gen 0 'frame(0, 1, "\xe2\x82") . frame(1, 0, "\xac")' >"$w/utf8-split-across-fragments"
gen 0 'frame(1, 1, "\xed\xa0\x80")' >"$w/utf8-surrogate"
gen 0 'frame(1, 1, "hello", 0)' >"$w/unmasked"
gen 0 'frame(1, 1, "hello", 1, 4)' >"$w/rsv1"
gen 0 'frame(1, 3, "reserved opcode")' >"$w/opcode-3"
gen 0 'frame(1, 9, "p" x 126)' >"$w/ping-too-long"
gen 0 'frame(0, 9, "frag ping")' >"$w/fragmented-ping-frame"
gen 0 'frame(1, 0, "orphan")' >"$w/orphan-continuation"
gen 7 'frame(1, 1, "hello") . frame(1, 2, "bin")' >"$w/extra-split"
gen 127 'frame(1, 1, "x" x 400)' >"$w/extra-max"
gen 128 'frame(1, 1, "hello") . frame(1, 9, "ping")' >"$w/abrupt-eof"
gen 131 'frame(1, 1, "hello")' >"$w/abrupt-eof-extra"
gen 0 'frame(1, 2, "m" x 65536)' >"$w/message-at-cap"
gen 0 'frame(1, 2, "m" x 65537)' >"$w/message-over-cap"

# --- fuzz_ws_reader: byte 0 = the feed size (0: all at once), then client frames: the same
# seeds as fuzz_ws_frames (their control byte reads as a feed size) ---
mkdir -p "$out/fuzz_ws_reader"
cp "$w"/* "$out/fuzz_ws_reader/"

# --- fuzz_llm_stream: a streamed chat completion, lines as a server sends them ---
l=$out/fuzz_llm_stream
mkdir -p "$l"
printf ': keep-alive\n\ndata: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\ndata: {"choices":[{"index":0,"delta":{"content":"We rowed [1]"}}]}\n\ndata: {"choices":[{"index":0,"delta":{"content":" home [7]."}}]}\n\ndata: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}\n\ndata: [DONE]\n\n' >"$l/stream"
printf 'data: {"choices":[{"delta":{"content":"[0190f0a0-0000-7000-8000-000000000002"}}]}\ndata: {"choices":[{"delta":{"content":", 1] and [x] a[ [1"}}]}\n' >"$l/split-marks"
printf 'data: {"error":{"message":"overloaded","type":"server_error"}}\n' >"$l/error"
printf 'event: x\r\ndata:{"choices":[{"delta":{"content":"caf\\u00e9"}}]}\r\ndata: nope\r\n' >"$l/crlf"

# --- fuzz_extract_parse: a model's answer to the extraction prompt ---
e=$out/fuzz_extract_parse
mkdir -p "$e"
printf '{"facts":[{"text":"I was born in Leeds.","importance":0.9},{"text":"I was a nurse."}]}' >"$e/strict"
printf 'Sure!\n```json\n{"facts": [\n {"text": "I rowed.",},\n "I sang, \\"loudly\\".",\n]}\n```\nDone.' >"$e/fenced-trailing-commas"
printf '1. I was born in Leeds.\n2) I was a nurse.\n- We rowed.\n* \n' >"$e/lines"
printf '[{"fact":"x","importance":7},"y",{"text":""}]' >"$e/array"
printf '{"facts": [' >"$e/truncated"

