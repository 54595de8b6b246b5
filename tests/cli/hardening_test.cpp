// SPDX-License-Identifier: Apache-2.0
// Hostile and broken input for the `instasent` tool: numbers out of range, corrupt gzip, output
// paths that are one file under different names, damaged checkpoints, inputs that never end,
// odd token files, ids that are not path segments, and bytes that would reach the terminal.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <set>

#include "checkpoint.hpp"
#include "cli/cli_support.hpp"
#include "connection.hpp"
#include "csv.hpp"
#include "exit_codes.hpp"
#include "line_source.hpp"
#include "records.hpp"
#include "text.hpp"

namespace instasent::cli::testing {
namespace {

// The contacts of this file's inputs carry no email: {"_user_id":"U<i>","n":i}.
std::string contact_line(int i) { return testing::contact_line(i, /*with_email=*/false); }

std::string contacts_ndjson(int count, int first = 0) {
  return testing::contacts_ndjson(count, first, /*with_email=*/false);
}

// What a terminal shows as it is: valid UTF-8 without control characters but line ends.
bool printable_text(const std::string& text) {
  if (!is_valid_utf8(text)) return false;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && byte != '\n') || byte == 0x7F) return false;
  }
  return true;
}

// A gzip member header followed by a deflate block of a type that does not exist (0b11).
std::string corrupt_gzip_member() {
  return std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10) + std::string(16, '\xFF');
}

// Bytes read so far by a process (all its reads, from any file).
std::uint64_t bytes_read_by(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "rchar:") return value;
  }
  return 0;
}

// Sends `signal_number` to `process` and waits for its end: within 5 s, and by the tool itself
// (the signal did not kill it). Nullopt, and a failure saying it was `doing` so, when it still runs
// 10 s after the signal.
std::optional<CliResult> stop_by_signal(CliProcess& process, int signal_number,
                                        const std::string& doing) {
  const auto signalled_at = steady_clock::now();
  process.send_signal(signal_number);
  const auto result = process.wait(10s);
  if (!result) {
    ADD_FAILURE() << doing << " 10 s after signal " << signal_number;
    return std::nullopt;
  }
  EXPECT_LT(steady_clock::now() - signalled_at, 5s);
  EXPECT_FALSE(result->signaled);
  return result;
}

// --- 1. Numbers out of range ---------------------------------------------------------------------

TEST(CliHardening, NumberOutOfRangeIsOneUnreadableLine) {
  ScratchDir dir;
  Emulator emulator;
  const std::string input = dir.file("contacts.ndjson");
  const std::string rejects = dir.file("rejects.ndjson");
  const std::string checkpoint = dir.file("checkpoint.json");
  write_file(input, contact_line(1) + "\n" + R"({"_user_id":"u","x":1e999})" + "\n" +
                        contact_line(3) + "\n" + R"({"_user_id":"v","x":[-1e400]})" + "\n" +
                        contact_line(5) + "\n");
  const CliResult result = run_cli(
      dir,
      {"import", "contacts", input, "--rejects", rejects, "--checkpoint", checkpoint, "--json"},
      emulator.env());
  EXPECT_EQ(result.status, 1) << result.err;
  const json summary = result.summary();
  EXPECT_EQ(summary["read"], 5);
  EXPECT_EQ(summary["delivered"], 3);
  EXPECT_EQ(summary["unreadable"], 2);
  EXPECT_EQ(summary["checkpoint_line"], 5);
  EXPECT_EQ(checkpoint_line(checkpoint), 5u);
  const auto records = rejects_by_line(rejects, /*once=*/false);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records.at(2)["item"], R"({"_user_id":"u","x":1e999})");  // the line as text
  EXPECT_TRUE(contains(records.at(2)["errors"][""][0].get<std::string>(), "out of range"));
  EXPECT_EQ(records.count(4), 1u);
  EXPECT_TRUE(contains(result.err, "line 2 ")) << result.err;
  EXPECT_TRUE(contains(result.err, "line 4 ")) << result.err;
  EXPECT_FALSE(contains(result.err, "1e999")) << "the input is not quoted";
  EXPECT_EQ(emulator.state()["contacts"].size(), 3u);

  // Resuming goes past the line instead of stopping on it again.
  const CliResult again = run_cli(
      dir,
      {"import", "contacts", input, "--rejects", rejects, "--checkpoint", checkpoint, "--json"},
      emulator.env());
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.summary()["skipped_by_checkpoint"], 5);
}

TEST(RecordReader, NumbersOutOfRangeAreAProblemNotAnException) {
  ScratchDir dir;
  write_file(dir.file("in.ndjson"), "{\"_user_id\":\"U1\",\"x\":1e999}\n{\"_user_id\":\"U2\"}\n");
  write_file(dir.file("rejects.ndjson"),
             "{\"line\":1,\"item\":{\"_user_id\":\"U1\",\"x\":-1E+999},\"errors\":{}}\n"
             "{\"line\":2,\"item\":{\"_user_id\":\"U2\"},\"errors\":{}}\n");
  for (const auto& [file, format] : {std::pair{"in.ndjson", InputFormat::ndjson},
                                     std::pair{"rejects.ndjson", InputFormat::rejects}}) {
    LineSource source(dir.file(file));
    RecordReader reader(source, format, {}, ItemKind::contacts);
    Record record;
    ASSERT_TRUE(reader.next(record, 0));
    EXPECT_FALSE(record.readable());
    EXPECT_TRUE(contains(record.problem, "out of range")) << record.problem;
    ASSERT_TRUE(reader.next(record, 0));
    EXPECT_TRUE(record.readable()) << record.problem;
    EXPECT_FALSE(reader.next(record, 0));
  }
}

TEST(CsvTable, JsonCellsOutOfRangeAreItemErrors) {
  CsvOptions options;
  options.types = {"x=json"};
  const CsvTable table({"_user_id", "x"}, options, ItemKind::contacts);
  for (const char* cell : {"1e999", "[-1e400]", "{\"a\":1E+999}"}) {
    EXPECT_THROW(table.to_object({"U1", cell}), ItemError) << cell;
  }
  EXPECT_EQ(table.to_object({"U1", "18446744073709551615"})["x"], 18446744073709551615u);
}

// --- 2. Corrupt gzip -------------------------------------------------------------------------

TEST(LineSource, CorruptGzipGivesZlibsMessageAndTheFileName) {
  ScratchDir dir;
  const std::string path = dir.file("corrupt.ndjson.gz");
  write_file(path, corrupt_gzip_member());
  try {
    LineSource source(path);
    FAIL() << "no error";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_TRUE(printable_text(message)) << message;
    EXPECT_TRUE(contains(message, path)) << message;
    EXPECT_TRUE(contains(message, "invalid block type")) << message;
  }
}

TEST(LineSource, ConcatenatedGzipMembersReadAsOneAndTrailingBytesAreAnError) {
  ScratchDir dir;
  write_gzip(dir.file("a.gz"), "one\ntwo\n");
  write_gzip(dir.file("b.gz"), "three\n");
  write_file(dir.file("ab.gz"), read_file(dir.file("a.gz")) + read_file(dir.file("b.gz")));
  LineSource source(dir.file("ab.gz"));
  std::string line;
  std::vector<std::string> lines;
  while (source.next(line) == LineSource::Status::line) lines.push_back(line);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));

  // Lines appended after the compressed stream are not dropped without a word.
  write_file(dir.file("appended.gz"), read_file(dir.file("a.gz")) + "{\"_user_id\":\"late\"}\n");
  EXPECT_THROW(
      {
        LineSource appended(dir.file("appended.gz"));
        while (appended.next(line) != LineSource::Status::end) {
        }
      },
      InputError);
}

TEST(CliHardening, CorruptGzipAtTheStartIs2AndSendsNothing) {
  ScratchDir dir;
  Emulator emulator;
  const std::string path = dir.file("corrupt.ndjson.gz");
  write_file(path, corrupt_gzip_member());
  const CliResult result = run_cli(dir, {"import", "contacts", path, "--json"}, emulator.env());
  EXPECT_EQ(result.status, 2) << result.err;
  EXPECT_TRUE(printable_text(result.err)) << result.err;
  EXPECT_TRUE(contains(result.err, "cannot read " + path)) << result.err;
  EXPECT_TRUE(contains(result.err, "invalid block type")) << result.err;
  EXPECT_EQ(result.summary()["exit_code"], 2);
  EXPECT_EQ(emulator.stats()["requests"], 0);
}

TEST(CliHardening, CorruptGzipInTheMiddleDeliversWhatCameBeforeAndIs2) {
  ScratchDir dir;
  Emulator emulator;
  write_gzip(dir.file("good.gz"), contacts_ndjson(5'000));
  const std::string path = dir.file("damaged.ndjson.gz");
  write_file(path, read_file(dir.file("good.gz")) + corrupt_gzip_member());
  const std::string checkpoint = dir.file("checkpoint.json");
  const CliResult result = run_cli(
      dir, {"import", "contacts", path, "--checkpoint", checkpoint, "--json"}, emulator.env());
  EXPECT_EQ(result.status, 2) << result.err;
  EXPECT_TRUE(printable_text(result.err)) << result.err;
  EXPECT_TRUE(contains(result.err, "cannot read " + path + " after line 5,000") ||
              contains(result.err, "cannot read " + path + " after line 5000"))
      << result.err;
  const json summary = result.summary();
  EXPECT_EQ(summary["read"], 5'000);
  EXPECT_EQ(summary["delivered"], 5'000);
  EXPECT_EQ(checkpoint_line(checkpoint), 5'000u);
  EXPECT_EQ(emulator.accepted(), 5'000u);
}

// --- 3. Output paths that are one file -------------------------------------------------------

TEST(CliHardening, OutputsThatAreOneFileUnderTwoNamesAreRefused) {
  ScratchDir dir;
  Emulator emulator;
  const std::string input = dir.file("c.ndjson");
  write_file(input, contacts_ndjson(3));
  write_file(dir.file("old.json"), "keep me");
  ASSERT_EQ(link(dir.file("old.json").c_str(), dir.file("hard.json").c_str()), 0);
  ASSERT_EQ(symlink(dir.file("cp-target.json").c_str(), dir.file("dangling").c_str()), 0);
  ASSERT_EQ(symlink(input.c_str(), dir.file("input-link").c_str()), 0);
  ASSERT_EQ(mkdir(dir.file("sub").c_str(), 0700), 0);

  struct Case {
    std::vector<std::string> args;
    std::string first;  // what the message names
    std::string second;
    std::string stdin_path;
  };
  // --rejects and --checkpoint that are one file.
  const auto rejects_at_checkpoint = [&](const std::string& rejects,
                                         const std::string& checkpoint) {
    return Case{
        {input, "--rejects", rejects, "--checkpoint", checkpoint}, "--rejects", "--checkpoint", ""};
  };
  const std::vector<Case> cases{
      rejects_at_checkpoint(dir.path() + "/./cp.json", dir.file("cp.json")),
      rejects_at_checkpoint(dir.file("sub/../cp.json"), dir.file("cp.json")),
      rejects_at_checkpoint(dir.file("cp.json.tmp"), dir.file("cp.json")),
      rejects_at_checkpoint(dir.file("r.ndjson"), dir.file("r.ndjson.tmp")),
      rejects_at_checkpoint(dir.file("dangling"), dir.file("cp-target.json")),
      rejects_at_checkpoint(dir.file("hard.json"), dir.file("old.json")),
      {{input, "--rejects", dir.file("input-link")}, "input", "--rejects", ""},
      {{"-", "--format", "ndjson", "--rejects", input}, "input", "--rejects", input},
      {{dir.file("in.tmp"), "--format", "ndjson", "--rejects", dir.file("in"), "--checkpoint",
        dir.file("cp.json")},
       "input",
       "--rejects",
       ""},
  };
  write_file(dir.file("in.tmp"), contacts_ndjson(2));
  for (const Case& test : cases) {
    std::vector<std::string> command{"import", "contacts"};
    command.insert(command.end(), test.args.begin(), test.args.end());
    std::string line;
    for (const std::string& word : command) line += word + " ";
    const CliResult result = run_cli(dir, command, emulator.env(), test.stdin_path);
    EXPECT_EQ(result.status, 2) << line << "\n" << result.err;
    EXPECT_TRUE(contains(result.err, test.first) && contains(result.err, test.second))
        << line << "\n"
        << result.err;
  }
  EXPECT_EQ(read_file(dir.file("in.tmp")), contacts_ndjson(2));
  EXPECT_EQ(emulator.stats()["requests"], 0);
  EXPECT_EQ(read_file(input), contacts_ndjson(3));
  EXPECT_EQ(read_file(dir.file("old.json")), "keep me");
  EXPECT_FALSE(file_exists(dir.file("cp.json")));
  EXPECT_FALSE(file_exists(dir.file("cp-target.json")));
}

// An emulator, and the files of an import in a scratch directory: its input, checkpoint and
// rejects file.
struct ImportFiles {
  ScratchDir dir;
  Emulator emulator;
  std::string input = dir.file("c.ndjson");
  std::string checkpoint = dir.file("cp.json");
  std::string rejects = dir.file("r.ndjson");

  // Writes 300 contacts to the input and imports them to the end with the checkpoint; the exit
  // code.
  int import_300_contacts() const {
    write_file(input, contacts_ndjson(300));
    return run_cli(dir, {"import", "contacts", input, "--checkpoint", checkpoint}, emulator.env())
        .status;
  }
};

TEST(CliHardening, ASymlinkAtATemporaryFileIsReplacedNotFollowed) {
  const ImportFiles files;
  const auto& [dir, emulator, input, checkpoint, rejects] = files;
  write_file(input, contacts_ndjson(5) + "{oops\n");
  write_file(dir.file("victim"), "not to be written");
  ASSERT_EQ(symlink(dir.file("victim").c_str(), (checkpoint + ".tmp").c_str()), 0);
  const CliResult first =
      run_cli(dir, {"import", "contacts", input, "--checkpoint", checkpoint, "--rejects", rejects},
              emulator.env());
  EXPECT_EQ(first.status, 1) << first.err;
  EXPECT_EQ(read_file(dir.file("victim")), "not to be written");
  struct stat info {};
  ASSERT_EQ(lstat(checkpoint.c_str(), &info), 0);
  EXPECT_TRUE(S_ISREG(info.st_mode));
  EXPECT_EQ(checkpoint_line(checkpoint), 6u);

  // The rejects file's temporary, which a resumed import writes.
  ASSERT_EQ(symlink(dir.file("victim").c_str(), (rejects + ".tmp").c_str()), 0);
  const CliResult resumed =
      run_cli(dir, {"import", "contacts", input, "--checkpoint", checkpoint, "--rejects", rejects},
              emulator.env());
  EXPECT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(read_file(dir.file("victim")), "not to be written");
  EXPECT_EQ(rejects_by_line(rejects, /*once=*/false).count(6), 1u);  // kept: line 6 is confirmed
}

// --- 4. Damaged checkpoints ------------------------------------------------------------------

TEST(Checkpoint, RefusesALineThatIsNotACountOfLines) {
  ScratchDir dir;
  const std::string path = dir.file("checkpoint.json");
  Checkpoint checkpoint;
  checkpoint.input = InputIdentity{"in.ndjson", 100, "00ff", 100};
  checkpoint.line = 300;
  checkpoint.save(path);
  const std::string saved = read_file(path);
  ASSERT_TRUE(contains(saved, "\"line\": 300"));
  for (const char* line :
       {"-5", "1e30", "18446744073709551616", "\"12\"", "1.5", "null", "1e999", "-0.0"}) {
    std::string text = saved;
    text.replace(text.find("\"line\": 300"), 11, std::string("\"line\": ") + line);
    write_file(path, text);
    EXPECT_THROW(Checkpoint::load(path), UsageError) << line;
  }
  std::string text = saved;
  text.replace(text.find("\"size\": 100"), 11, "\"size\": -100");
  write_file(path, text);
  EXPECT_THROW(Checkpoint::load(path), UsageError);
  // Larger than any checkpoint: refused without being read into memory (a device or a pipe,
  // which might never end, is refused before it is opened; see the end-to-end test).
  write_file(path, std::string(1 << 20, ' ') + saved);
  EXPECT_THROW(Checkpoint::load(path), UsageError);
}

TEST(CliHardening, CheckpointWithABadLineIsRefusedAndLeftAlone) {
  const ImportFiles files;
  ASSERT_EQ(files.import_300_contacts(), 0);
  const auto& [dir, emulator, input, checkpoint, rejects] = files;
  const std::string saved = read_file(checkpoint);
  const json requests = emulator.stats()["requests"];
  for (const char* line : {"-5", "1e30", "18446744073709551616", "\"12\""}) {
    std::string text = saved;
    text.replace(text.find("\"line\": 300"), 11, std::string("\"line\": ") + line);
    write_file(checkpoint, text);
    const CliResult result = run_cli(
        dir, {"import", "contacts", input, "--checkpoint", checkpoint, "--json"}, emulator.env());
    EXPECT_EQ(result.status, 2) << line << "\n" << result.err;
    EXPECT_TRUE(contains(result.err, checkpoint)) << result.err;
    EXPECT_EQ(read_file(checkpoint), text) << line;
  }
  EXPECT_EQ(emulator.stats()["requests"], requests);
}

TEST(CliHardening, CheckpointBeyondTheEndOfTheInputIsRefusedAndLeftAlone) {
  const ImportFiles files;
  ASSERT_EQ(files.import_300_contacts(), 0);
  const auto& [dir, emulator, input, checkpoint, rejects] = files;
  const json requests = emulator.stats()["requests"];

  // The same input, a checkpoint that claims more lines than it has.
  std::string text = read_file(checkpoint);
  text.replace(text.find("\"line\": 300"), 11, "\"line\": 500");
  write_file(checkpoint, text);
  const CliResult beyond = run_cli(
      dir, {"import", "contacts", input, "--checkpoint", checkpoint, "--json"}, emulator.env());
  EXPECT_EQ(beyond.status, 2) << beyond.err;
  EXPECT_EQ(beyond.summary()["exit_code"], 2);
  EXPECT_EQ(beyond.summary()["sent"], 0);
  EXPECT_TRUE(contains(beyond.err, "500") && contains(beyond.err, "300")) << beyond.err;
  EXPECT_TRUE(beyond.summary()["checkpoint_line"].is_null());  // it is not this input's
  EXPECT_FALSE(contains(beyond.err, checkpoint + ": every line up to")) << beyond.err;
  EXPECT_EQ(read_file(checkpoint), text);

  // Forced onto a shorter input.
  const std::string shorter = dir.file("short.ndjson");
  write_file(shorter, contacts_ndjson(100, 5'000));
  const std::string original = read_file(checkpoint);
  const CliResult forced = run_cli(
      dir, {"import", "contacts", shorter, "--checkpoint", checkpoint, "--force-resume", "--json"},
      emulator.env());
  EXPECT_EQ(forced.status, 2) << forced.err;
  EXPECT_EQ(read_file(checkpoint), original);
  EXPECT_EQ(emulator.stats()["requests"], requests);
}

// --- 5. Signals whatever the input is doing --------------------------------------------------

TEST(CliHardening, SignalsStopAnEndlessLine) {
  ScratchDir dir;
  for (const int signal_number : {SIGTERM, SIGINT}) {
    CliProcess process(
        dir, {"import", "contacts", "--format", "ndjson", "/dev/zero", "--validate", "--json"}, {});
    // Well into the line (past the 64 KiB head and the 1 MiB line limit) before the signal.
    ASSERT_TRUE(wait_until([&] { return bytes_read_by(process.pid()) > (16u << 20); }, 20s));
    const auto result = stop_by_signal(process, signal_number, "still reading");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 128 + signal_number) << result->err;
    EXPECT_EQ(result->summary()["exit_code"], 128 + signal_number);
  }
}

TEST(CliHardening, SigtermStopsAStalledPipeAfterDeliveringWhatCameThrough) {
  ScratchDir dir;
  Emulator emulator;
  const std::string fifo = dir.file("pipe");
  StalledPipe pipe(fifo);
  const std::string checkpoint = dir.file("cp.json");
  CliProcess process(
      dir, {"import", "contacts", "--format", "ndjson", "-", "--checkpoint", checkpoint, "--json"},
      emulator.env(), fifo);
  // More than the 64 KiB head, then nothing more and no end: the lines that came through are
  // imported while the pipe stalls.
  constexpr int kContacts = 3'000;
  ASSERT_TRUE(pipe.write_all(contacts_ndjson(kContacts), 30s));
  ASSERT_TRUE(wait_until([&] { return pipe.unread() == 0; }, 30s));
  ASSERT_TRUE(wait_until([&] { return emulator.accepted() == kContacts; }, 30s))
      << emulator.accepted() << " accepted";
  const auto result = stop_by_signal(process, SIGTERM, "still waiting on the pipe");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 143) << result->err;
  const json summary = result->summary();
  EXPECT_EQ(summary["read"], kContacts);
  EXPECT_EQ(summary["delivered"], kContacts);
  EXPECT_EQ(summary["checkpoint_line"], kContacts);
  EXPECT_EQ(checkpoint_line(checkpoint), static_cast<std::uint64_t>(kContacts));
}

TEST(CliHardening, SigintStopsAPipeThatStallsBeforeTheHeadIsRead) {
  ScratchDir dir;
  Emulator emulator;
  const std::string fifo = dir.file("pipe");
  StalledPipe pipe(fifo);
  CliProcess process(dir, {"import", "contacts", "--format", "ndjson", "-", "--json"},
                     emulator.env(), fifo);
  // Ten lines, less than the head that identifies the input: the tool waits for more.
  ASSERT_TRUE(pipe.write_all(contacts_ndjson(10), 10s));
  ASSERT_TRUE(wait_until([&] { return pipe.unread() == 0; }, 30s));
  const auto result = stop_by_signal(process, SIGINT, "still waiting on the pipe");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 130) << result->err;
  EXPECT_EQ(result->summary()["exit_code"], 130);
  EXPECT_TRUE(contains(result->err, "SIGINT")) << result->err;
  EXPECT_EQ(emulator.stats()["requests"], 0);
}

TEST(LineSource, AStopRequestEndsAnEndlessLine) {
  int checks = 0;
  LineSource source("/dev/zero", LineSource::kDefaultMaxLineBytes, [&] { return ++checks > 100; });
  std::string line;
  EXPECT_THROW(source.next(line), ReadInterrupted);
  EXPECT_LE(line.size(), LineSource::kDefaultMaxLineBytes);
}

// --- 6. Token files --------------------------------------------------------------------------

TEST(TokenFile, ByteOrderMarkAndBlankLinesAreIgnoredBadTokensAreNamedNotShown) {
  ScratchDir dir;
  const std::string path = dir.file("token");
  write_file(path, "\xEF\xBB\xBF  Qx7-Zy9 \r\n\n");
  chmod(path.c_str(), 0600);
  EXPECT_EQ(read_token_file(path), "Qx7-Zy9");
  for (const char* text : {"Qx7 Zy9\n", "Qx7\rZy9\n", "Qx7\nZy9\n", "Qx7\x01Zy9", "Qx7\xC3\xA9"}) {
    write_file(path, text);
    try {
      read_token_file(path);
      ADD_FAILURE() << "accepted " << printable(text);
    } catch (const UsageError& error) {
      const std::string message = error.what();
      EXPECT_TRUE(contains(message, "token file " + path)) << message;
      EXPECT_FALSE(contains(message, "INSTASENT_TOKEN")) << message;
      EXPECT_FALSE(contains(message, "Qx7")) << message;
      EXPECT_FALSE(contains(message, "Zy9")) << message;
    }
  }
}

TEST(CliHardening, TokenFiles) {
  ScratchDir dir;
  Emulator emulator("tok-F1LE-abc");
  Env env = emulator.env();
  env.erase("INSTASENT_TOKEN");
  const auto stream = [&](const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = dir.file(name);
    write_file(path, content);
    chmod(path.c_str(), mode);
    return run_cli(dir, {"stream", "--token-file", path}, env);
  };

  const CliResult with_bom = stream("bom", "\xEF\xBB\xBFtok-F1LE-abc\r\n", 0600);
  EXPECT_EQ(with_bom.status, 0) << with_bom.err;
  EXPECT_EQ(with_bom.err, "");

  const CliResult readable = stream("readable", "tok-F1LE-abc\n", 0644);
  EXPECT_EQ(readable.status, 0) << readable.err;
  EXPECT_TRUE(contains(readable.err, dir.file("readable"))) << readable.err;
  EXPECT_TRUE(contains(readable.err, "chmod 600")) << readable.err;
  const CliResult group = stream("group", "tok-F1LE-abc\n", 0640);
  EXPECT_EQ(group.status, 0) << group.err;
  EXPECT_TRUE(contains(group.err, "chmod 600")) << group.err;
  const auto requests = emulator.stats()["requests"];

  for (const char* content : {"tok-F1LE abc\n", "tok-F1LE\rabc\n", "tok-F1LE\nabc\n"}) {
    const CliResult bad = stream("bad", content, 0600);
    EXPECT_EQ(bad.status, 2) << bad.err;
    EXPECT_TRUE(contains(bad.err, "token file " + dir.file("bad"))) << bad.err;
    EXPECT_FALSE(contains(bad.err, "INSTASENT_TOKEN")) << bad.err;
    EXPECT_FALSE(contains(bad.err, "F1LE")) << bad.err;
    EXPECT_TRUE(printable_text(bad.err)) << bad.err;
  }
  EXPECT_EQ(emulator.stats()["requests"], requests);
}

// --- 7. Ids that are not path segments -------------------------------------------------------

TEST(CliHardening, DotSegmentIdsAreRefusedAndNothingIsDeleted) {
  ScratchDir dir;
  Emulator emulator;
  write_file(dir.file("c.ndjson"), contacts_ndjson(3));
  ASSERT_EQ(run_cli(dir, {"import", "contacts", dir.file("c.ndjson")}, emulator.env()).status, 0);
  const json requests = emulator.stats()["requests"];
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"delete", "U1", "..", "U2"},
                                             {"delete", "U1", "."},
                                             {"delete", "U1", ""},
                                             {"get", ".."},
                                             {"get", "."},
                                             {"specs", "event-parameters", ".."}}) {
    std::string line;
    for (const std::string& word : command) line += word + " ";
    const CliResult result = run_cli(dir, command, emulator.env());
    EXPECT_EQ(result.status, 2) << line << "\n" << result.err;
    EXPECT_FALSE(contains(result.out, "deleted")) << line << "\n" << result.out;
    EXPECT_TRUE(contains(result.err, "cannot be \".\" or \"..\"") ||
                contains(result.err, "must not be empty"))
        << line << "\n"
        << result.err;
    if (command.front() == "delete") {
      EXPECT_TRUE(contains(result.err, "nothing was deleted")) << line << "\n" << result.err;
    }
  }
  EXPECT_EQ(emulator.stats()["requests"], requests);  // nothing was sent for any of them
  EXPECT_EQ(emulator.state()["contacts"].size(), 3u);
}

// --- 8. What reaches the terminal, and inputs that never end ---------------------------------

TEST(CliHardening, PathsInMessagesAreEscaped) {
  ScratchDir dir;
  Emulator emulator;
  const std::string hostile = dir.file("evil\x1b]0;title\x07\x1b[2J.ndjson");
  const CliResult missing = run_cli(dir, {"import", "contacts", hostile}, emulator.env());
  EXPECT_EQ(missing.status, 2);
  EXPECT_TRUE(printable_text(missing.err)) << missing.err;
  EXPECT_TRUE(contains(missing.err, "evil")) << missing.err;

  // A checkpoint that names a hostile input path, written for another input.
  const std::string input = dir.file("c.ndjson");
  const std::string checkpoint = dir.file("cp.json");
  write_file(input, contacts_ndjson(5));
  Checkpoint other;
  other.input = InputIdentity{"\x1b[31mred\x1b[0m.ndjson", 1, "ffff", 1};
  other.save(checkpoint);
  const CliResult mismatch =
      run_cli(dir, {"import", "contacts", input, "--checkpoint", checkpoint}, emulator.env());
  EXPECT_EQ(mismatch.status, 2);
  EXPECT_TRUE(contains(mismatch.err, "red")) << mismatch.err;
  EXPECT_TRUE(printable_text(mismatch.err)) << mismatch.err;

  // Rejects and checkpoint paths in the summary.
  write_file(dir.file("bad.ndjson"), "{oops\n");
  const CliResult summary =
      run_cli(dir,
              {"import", "contacts", dir.file("bad.ndjson"), "--rejects",
               dir.file("r\x1b[2J.ndjson"), "--checkpoint", dir.file("cp\x1b[2J.json")},
              emulator.env());
  EXPECT_EQ(summary.status, 1) << summary.err;
  EXPECT_TRUE(printable_text(summary.err)) << summary.err;
  EXPECT_EQ(emulator.stats()["requests"], 0);
}

TEST(CliHardening, DurationsThatAreNotNumbersAreRefused) {
  ScratchDir dir;
  write_file(dir.file("c.ndjson"), contacts_ndjson(3));
  for (const char* flag : {"--shutdown-timeout", "--progress-interval"}) {
    for (const char* value : {"nan", "-nan", "inf"}) {
      const CliResult result =
          run_cli(dir, {"import", "contacts", dir.file("c.ndjson"), "--validate", flag, value}, {});
      EXPECT_EQ(result.status, 2) << flag << " " << value << "\n" << result.err;
    }
  }
}

TEST(CliHardening, PipesAsCheckpointOrRejectsAreNotReadForever) {
  ScratchDir dir;
  Emulator emulator;
  const std::string input = dir.file("c.ndjson");
  const std::string checkpoint = dir.file("cp.json");
  write_file(input, contacts_ndjson(10) + "{oops\n" + contacts_ndjson(10, 10));
  // A checkpoint that never ends is not read: it is not a regular file.
  const StalledPipe stalled_checkpoint(dir.file("cp-pipe"));
  const CliResult endless =
      run_cli(dir, {"import", "contacts", input, "--checkpoint", dir.file("cp-pipe")},
              emulator.env(), "", 10s);
  EXPECT_EQ(endless.status, 2) << endless.err;
  EXPECT_TRUE(contains(endless.err, dir.file("cp-pipe"))) << endless.err;
  EXPECT_EQ(emulator.stats()["requests"], 0);

  // Resuming keeps the earlier records of a rejects file that is a regular file; a pipe has none
  // to keep (and is never replaced by one).
  ASSERT_EQ(run_cli(dir, {"import", "contacts", input, "--checkpoint", checkpoint}, emulator.env())
                .status,
            1);
  const StalledPipe stalled_rejects(dir.file("rejects-pipe"));
  const CliResult resumed = run_cli(dir,
                                    {"import", "contacts", input, "--checkpoint", checkpoint,
                                     "--rejects", dir.file("rejects-pipe"), "--json"},
                                    emulator.env(), "", 10s);
  EXPECT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(resumed.summary()["skipped_by_checkpoint"], 21);
  struct stat info {};
  ASSERT_EQ(stat(dir.file("rejects-pipe").c_str(), &info), 0);
  EXPECT_TRUE(S_ISFIFO(info.st_mode));
}

}  // namespace
}  // namespace instasent::cli::testing
