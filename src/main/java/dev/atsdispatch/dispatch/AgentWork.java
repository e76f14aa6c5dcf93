package dev.atsdispatch.dispatch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atsdispatch.exec.AgentResult;
import dev.atsdispatch.exec.AgentSpec;
import dev.atsdispatch.exec.EnvText;
import dev.atsdispatch.exec.Preset;
import dev.atsdispatch.exec.PresetReader;
import dev.atsdispatch.source.TaskKey;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an attempt hands the agent and what it makes of the agent's result: the spec (prompt,
 * scrubbed environment, the task's own directory, limits), the outputs of a completed task and
 * the reason of a failed one. Pure functions of the config; safe from any thread.
 */
final class AgentWork {
  private static final ObjectMapper M = new ObjectMapper();
  private final ServiceConfig cfg;
  private final StateDir state;
  private final Map<String, String> serviceEnv;
  private final java.util.function.Supplier<String> logKey;
  private final dev.atsdispatch.source.TaskSource source;
  /** The agent API, when the service runs one (set before the engine starts). */
  private volatile dev.atsdispatch.api.AgentApi api;
  /** What the running agents do, for the operator API (lines of encrypted tasks never come here). */
  private volatile dev.atsdispatch.status.AgentEvents events = new dev.atsdispatch.status.AgentEvents();

  dev.atsdispatch.status.AgentEvents events() {
    return events;
  }

  void useEvents(dev.atsdispatch.status.AgentEvents e) {
    this.events = e;
  }

  /** The route's name when the service has several (shown with each running agent); null: one. */
  private volatile String route;

  String route() {
    return route;
  }

  void useRoute(String name) {
    this.route = name;
  }

  AgentWork(ServiceConfig cfg, StateDir state, Map<String, String> serviceEnv, java.util.function.Supplier<String> logKey,
      dev.atsdispatch.source.TaskSource source) {
    this.cfg = cfg;
    this.source = source;
    this.state = state;
    this.serviceEnv = Map.copyOf(serviceEnv);
    this.logKey = logKey;
  }

  void useApi(dev.atsdispatch.api.AgentApi api) {
    this.api = api;
  }

  /** Questions to people: an answered one is given to the task's next attempt (set before the engine starts). */
  private volatile Asking asking;

  void useAsking(Asking a) {
    this.asking = a;
  }

  /**
   * The attempt's access to the agent API (its token), or null when there is no API: what the
   * agent may read of its task is what its prompt has, without the service's internal fields.
   */
  dev.atsdispatch.api.AgentApi.Grant grant(TaskView v, int attempt) {
    dev.atsdispatch.api.AgentApi a = api;
    if (a == null) return null;
    ObjectNode task = M.createObjectNode();
    task.put("title", v.title());
    if (v.description() != null) task.put("description", v.description());
    ObjectNode payload = v.payload() == null ? M.createObjectNode() : v.payload().deepCopy();
    payload.remove(Prompts.INTERNAL_FIELDS);
    task.set("payload", payload);
    task.put("encrypted", v.encrypted());
    return a.open(v.key(), attempt, task, v.encrypted());
  }

  AgentSpec spec(TaskView v, int attempt) {
    return spec(v, attempt, null);
  }

  AgentSpec spec(TaskView v, int attempt, dev.atsdispatch.api.AgentApi.Grant grant) {
    return spec(v, attempt, grant, null);
  }

  /** The preset's reader for one attempt, or null when the agent is an opaque command. */
  PresetReader presetReader() {
    Preset p = Preset.named(cfg.preset());
    return p == null ? null : p.reader();
  }

  /**
   * As above; with {@code reader} (a preset) the argv is the preset's, with the task's session:
   * decided and saved before the first start where the preset decides it, and resumed by a later
   * attempt once a run has begun it, with a short continuation prompt instead of the task again.
   * A later attempt with no session to resume starts afresh, told what the previous one said.
   */
  AgentSpec spec(TaskView v, int attempt, dev.atsdispatch.api.AgentApi.Grant grant, PresetReader reader) {
    return spec(v, attempt, grant, reader, Budget.Spent.NOTHING);
  }

  /** Whether {@code p}'s CLI takes budget flags (else its output is watched). */
  static boolean hasBudgetFlags(Preset p) {
    return p.budgetFlags(null, null) != null;
  }

  /**
   * As above; a CLI with budget flags is given what is left of the task's budget after {@code
   * spent} (its earlier attempts).
   */
  AgentSpec spec(TaskView v, int attempt, dev.atsdispatch.api.AgentApi.Grant grant, PresetReader reader,
      Budget.Spent spent) {
    TaskKey key = v.key();
    String prompt = cfg.promptTemplate() != null
        ? Prompts.render(cfg.promptTemplate(), key.id(), v.title(), v.description(), v.payload(), key.source(), attempt)
        : source.prompt(key, v.title(), v.description(), v.payload(), v.encrypted());
    if (prompt == null) prompt = Prompts.build(cfg.promptIntro(), v.title(), v.description(), v.payload());
    java.util.List<String> command = cfg.agentCommand();
    Asking ask = asking;
    Questions.Open answered = ask == null ? null : ask.answerFor(key);
    String question = answered == null ? null : Questions.questionText(state.workDir(key), answered.number());
    if (reader != null) {
      Preset preset = reader.preset();
      PresetSessions.Session s = PresetSessions.of(state, key, preset);
      command = preset.argv(command, cfg.agentMode(), s.id(), s.begun());
      java.util.List<String> flags = cfg.budget().perTask()
          ? preset.budgetFlags(cfg.budget().turnsLeft(spent), cfg.budget().costLeft(spent)) : null;
      if (flags != null && !flags.isEmpty()) {
        command = new java.util.ArrayList<>(command);
        command.addAll(flags);
      }
      if (s.begun()) {
        prompt = answered != null ? Asking.continuation(answered, question) : Preset.CONTINUE;
      } else {
        prompt = withEarlierOutput(prompt, v, attempt, preset);
        if (answered != null) prompt = prompt + "\n\n" + Asking.continuation(answered, question);
      }
    } else if (answered != null) {
      prompt = prompt + "\n\n" + Asking.continuation(answered, question); // an opaque command starts afresh: all of it
    }
    Map<String, String> env = new LinkedHashMap<>();
    for (String k : cfg.envAllowlist()) {
      String value = serviceEnv.get(k);
      if (value != null) env.put(k, value);
    }
    env.putAll(cfg.extraEnv());
    // task text is untrusted: cleaned and capped to what a variable can carry (the prompt has it whole)
    env.put("ATS_TASK_ID", EnvText.clean(key.id(), 256));
    env.put("ATS_TASK_TITLE", EnvText.clean(v.title(), EnvText.TITLE_MAX));
    env.put("ATS_CHANNEL", cfg.channel());
    env.put("ATS_ATTEMPT", Integer.toString(attempt));
    Path mailbox = Questions.mailbox(state.workDir(key));
    try {
      dev.atsdispatch.files.OwnerOnly.createDirectories(mailbox); // there to write a question into
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot create " + mailbox, e);
    }
    env.put("ATS_QUESTIONS_DIR", mailbox.toString());
    if (answered != null) {
      env.put("ATS_QUESTION_NUMBER", Integer.toString(answered.number()));
      if (question != null) env.put("ATS_QUESTION", EnvText.clean(question, 4096));
      env.put("ATS_ANSWER", answered.answer() == null ? "" : EnvText.clean(answered.answer(), 4096));
    }
    if (grant != null) env.putAll(grant.env());
    // an encrypted task's output is plaintext: its logs are sealed to the dispatcher's key, or not kept
    String sealTo = null;
    boolean keep = true;
    if (v.encrypted()) {
      sealTo = cfg.encryptedLogs() == ServiceConfig.EncryptedLogs.SEALED ? logKey.get() : null;
      keep = sealTo != null;
    }
    return new AgentSpec(command, prompt, state.workDir(key), env,
        !keep ? null : state.stdoutLog(key, attempt, sealTo != null), !keep ? null : state.stderrLog(key, attempt, sealTo != null),
        cfg.agentTimeout(),
        cfg.noOutputTimeout(), cfg.grace(), cfg.responseCapBytes(), cfg.stderrTailBytes(), sealTo);
  }

  /**
   * A plaintext task's outputs carry the response and stderr tail; an encrypted task's carry only
   * the sealed response and metadata that reveal nothing of the content.
   */
  ObjectNode outputs(TaskView v, AgentResult r, int attempt) {
    return outputs(v, r, attempt, null);
  }

  /**
   * As above; {@code set}, when the agent gave outputs through the API, stands in for stdout: its
   * fields are the outputs (an encrypted task's sealed whole, as its response would be).
   */
  ObjectNode outputs(TaskView v, AgentResult r, int attempt, ObjectNode set) {
    return outputs(v, r, attempt, set, null);
  }

  /** As above; a preset's final result stands in for stdout, and its facts (session, cost, tokens, turns) join. */
  ObjectNode outputs(TaskView v, AgentResult r, int attempt, ObjectNode set, PresetReader reader) {
    ObjectNode o = outputsOf(v, r, attempt, set, reader == null ? null : reader.response());
    if (reader != null) o.setAll(reader.facts().outputs());
    return o;
  }

  /** The most of an earlier attempt's words a fresh session is told. */
  static final int EARLIER_MAX_CHARS = 4000;

  /**
   * A fresh session after an earlier attempt: the task's {@code prompt}, then what the previous
   * attempt said last (its final result, else its last text, else its error), read from its
   * plaintext log through the preset. The prompt alone for the first attempt, an encrypted task
   * (its log is sealed, or not kept) or when the log tells nothing.
   */
  private String withEarlierOutput(String prompt, TaskView v, int attempt, Preset preset) {
    if (attempt <= 1 || v.encrypted()) return prompt;
    java.nio.file.Path log = state.stdoutLog(v.key(), attempt - 1);
    if (!java.nio.file.Files.isRegularFile(log)) return prompt;
    PresetReader earlier = preset.reader();
    try (java.util.stream.Stream<String> lines = java.nio.file.Files.lines(log, java.nio.charset.StandardCharsets.UTF_8)) {
      lines.forEach(l -> earlier.accept("stdout", l));
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      return prompt; // unreadable: the task alone
    }
    PresetReader.Facts f = earlier.facts();
    String said = f.response() != null ? f.response() : f.lastText() != null ? f.lastText() : f.error();
    if (said == null || said.isBlank()) return prompt;
    if (said.length() > EARLIER_MAX_CHARS) said = "…" + said.substring(said.length() - EARLIER_MAX_CHARS);
    return prompt + "\n\n---\nAn earlier attempt at this task (attempt " + (attempt - 1) + ") ended without finishing, "
        + "and its session cannot be resumed. What it said last:\n\n" + said
        + "\n\nTake this into account, and complete the task.";
  }

  private ObjectNode outputsOf(TaskView v, AgentResult r, int attempt, ObjectNode set, String presetResponse) {
    String response = presetResponse != null ? presetResponse : r.response();
    ObjectNode o = M.createObjectNode();
    if (set != null) {
      if (v.encrypted()) {
        o.set("encrypted_response", v.seal().apply(set.toString()));
        o.put("response_encrypted", true);
      } else {
        o.setAll(set.deepCopy());
      }
      o.put("exit_code", r.exitCode());
      o.put("duration_ms", r.durationMs());
      o.put("attempt", attempt);
      return o;
    }
    if (v.encrypted()) {
      o.set("encrypted_response", v.seal().apply(response));
      o.put("response_encrypted", true);
    } else {
      o.put("response", response);
    }
    if (r.responseTruncated()) {
      o.put("response_truncated", true);
      o.put("response_bytes", r.stdoutBytes());
    }
    o.put("exit_code", r.exitCode());
    o.put("duration_ms", r.durationMs());
    o.put("attempt", attempt);
    if (!v.encrypted()) o.put("stderr_tail", r.stderrTail());
    return o;
  }

  /**
   * For a failed attempt of an encrypted task, what the sender may read of it: the reason with the
   * stderr tail, as a plaintext task's would be, sealed to the sender. The thread note
   * {@code {"encrypted_failure": {"attempt", "nonce", "ciphertext"}}} that carries it; null when
   * the attempt left no output to tell (it never started).
   */
  ObjectNode sealedFailure(TaskView v, Outcome o, AgentResult r, String detail, int attempt) {
    if (!v.encrypted() || r == null) return null;
    ObjectNode plain = M.createObjectNode().put("task", v.key().toString()).put("attempt", attempt)
        .put("reason", reason(o, r, detail, false)).put("stderr_tail", r.stderrTail());
    ObjectNode sealed = v.seal().apply(plain.toString());
    ObjectNode note = M.createObjectNode();
    note.putObject("encrypted_failure").put("attempt", attempt).setAll(sealed);
    return note;
  }

  /** The reason for a failed attempt; an encrypted task's never quotes stderr (it may echo the plaintext). */
  String reason(Outcome o, AgentResult r, String detail, boolean encrypted) {
    return switch (o) {
      case START_FAILED -> "Agent could not start: " + detail;
      case TIMED_OUT -> "Agent timed out after " + Reasons.human(cfg.agentTimeout()) + " (killed)";
      case NO_OUTPUT -> "Agent produced no output for " + Reasons.human(cfg.noOutputTimeout()) + " (killed)";
      case INTERNAL_ERROR -> "Internal error in ats-dispatch: " + detail;
      // the agent's own error text may quote the task: an encrypted task's reason leaves it out
      case AGENT_ERROR -> "Agent reported an error" + (encrypted || detail == null ? "" : ": " + Reasons.tail(detail.strip(), 1000));
      default -> {
        String tail = encrypted || r == null ? "" : Reasons.tail(r.stderrTail().strip(), 1000);
        yield "Agent exited with code " + (r == null ? null : r.exitCode()) + (tail.isEmpty() ? "" : ": " + tail);
      }
    };
  }
}
