// Drives the dashboard in Debian's chromium for DashboardBrowserTest (the Java test sets up the
// service and its tasks, then checks what this script saw and what the service did).
// Usage: node dashboard-check.mjs <status url> <screenshot dir> <running task> <cancelled task> <chain a,b,c> <failed task> <asking task>
// Prints one JSON object of observations; exits non-zero with a message when a step times out.
import { chromium } from 'playwright-core';

const [base, shots, running, cancelled, chainArg, failed, asks] = process.argv.slice(2);
const chain = chainArg.split(',');
const seen = {};
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const step = async (name, fn) => {
  try {
    return await fn();
  } catch (e) {
    console.log(JSON.stringify({ ...seen, failed_step: name, error: String(e && e.message || e) }));
    await browser.close();
    process.exit(1);
  }
};
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => d.accept());

  // the overview with tasks running: the row of a running agent, then a line of its output, live
  await step('overview', async () => {
    await page.goto(base + '/#/');
    await page.locator(`#agents tr[data-task="${running}"]`).waitFor({ timeout: 20000 });
    seen.running_count = Number(await page.locator('[data-count=running] .num').textContent());
    const tail = page.locator(`#agents tr[data-task="${running}"] pre.tail`);
    await tail.filter({ hasText: 'tick' }).waitFor({ timeout: 20000 });
    const first = await tail.textContent();
    // a later line arrives without a reload
    await page.waitForFunction(([sel, before]) => {
      const e = document.querySelector(sel);
      return e && e.textContent !== before && /tick/.test(e.textContent);
    }, [`#agents tr[data-task="${running}"] pre.tail`, first], { timeout: 20000 });
    seen.tail = (await tail.textContent()).split('\n').slice(-1)[0];
    seen.ready = await page.locator('#ready').textContent();
    await page.waitForFunction(() => document.querySelectorAll('svg.chart').length === 1);
    await page.screenshot({ path: shots + '/overview.png', fullPage: true });
  });

  // a question waiting for an answer, answered in the page
  await step('answer', async () => {
    const row = page.locator(`#questions tr[data-task="${asks}"]`);
    await row.waitFor({ timeout: 15000 });
    seen.question = await row.locator('td.reason').textContent();
    await row.locator('input.answer-text').fill('purple');
    await row.locator('button.answer').click();
    await page.locator('#flash').filter({ hasText: 'answered question 1' }).waitFor({ timeout: 10000 });
  });

  // the task page
  await step('task page', async () => {
    await page.goto(base + '/#/task/' + encodeURIComponent(running));
    await page.locator('#fields dl').waitFor({ timeout: 10000 });
    seen.task_fields = await page.locator('#fields dl').innerText();
    await page.locator('#attempts table').waitFor({ timeout: 10000 });
    seen.task_attempts = await page.locator('#attempts tbody tr').count();
    await page.locator('#logs .log-link').first().waitFor({ timeout: 10000 });
    await page.locator('#logs .log-link').filter({ hasText: 'stdout' }).first().click();
    await page.locator('#logs pre.log').filter({ hasText: 'tick' }).waitFor({ timeout: 10000 });
    seen.log_has_tick = true;
    await page.screenshot({ path: shots + '/task.png', fullPage: true });
  });

  // the dependency graph of a three-task chain
  await step('dependencies', async () => {
    await page.goto(base + '/#/deps');
    await page.locator('svg.graph').waitFor({ timeout: 15000 });
    seen.graph_nodes = await page.locator('svg.graph a.node').evaluateAll((as) => as.map((a) => a.dataset.task).sort());
    seen.graph_edges = await page.locator('svg.graph line.edge').evaluateAll((ls) => ls.map((l) => l.dataset.from + '->' + l.dataset.to).sort());
    seen.graph_waiting = await page.locator('svg.graph a.node.status-waiting').count();
    seen.graph_in_progress = await page.locator('svg.graph a.node.status-in_progress').count();
    await page.screenshot({ path: shots + '/dependencies.png', fullPage: true });
  });

  // failures, with a reopen action for an ATS task
  await step('failures', async () => {
    await page.goto(base + '/#/failures');
    await page.locator(`#failures tr[data-task="${failed}"]`).waitFor({ timeout: 15000 });
    seen.failure_reason = await page.locator(`#failures tr[data-task="${failed}"] td.reason`).textContent();
    seen.failure_reopen_button = await page.locator(`#failures tr[data-task="${failed}"] button.reopen`).count();
    await page.screenshot({ path: shots + '/failures.png', fullPage: true });
    await page.locator(`#failures tr[data-task="${failed}"] button.reopen`).click();
    await page.locator('#flash').filter({ hasText: 'reopened ' + failed }).waitFor({ timeout: 10000 });
    seen.reopened = true;
  });

  // cancel: the agent stops and the task leaves the running list
  await step('cancel', async () => {
    await page.goto(base + '/#/agents');
    const row = page.locator(`#agents tr[data-task="${cancelled}"]`);
    await row.waitFor({ timeout: 15000 });
    await row.locator('button.cancel').click();
    await page.locator('#flash').filter({ hasText: 'cancelling' }).waitFor({ timeout: 10000 });
    // the row goes when the service says the agent ended; the others stay (no re-render hides it)
    await page.waitForFunction(([gone, stays]) => {
      const rows = [...document.querySelectorAll('#agents tr[data-task]')].map((r) => r.dataset.task);
      return !rows.includes(gone) && rows.includes(stays);
    }, [cancelled, running], { timeout: 20000 });
    seen.cancelled_row_gone = true;
    seen.still_listed = await page.locator('#agents tr[data-task]').evaluateAll((rs) => rs.map((r) => r.dataset.task).sort());
    await page.screenshot({ path: shots + '/after-cancel.png', fullPage: true });
  });
  seen.page_errors = errors;
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
