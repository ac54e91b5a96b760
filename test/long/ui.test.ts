// `repo ui` and `repo report --html` driven in real headless Chromium (Debian's, through playwright-core; no
// browser is downloaded): the built CLI serves a real repository on loopback; the test opens the timeline,
// walks to a file, downloads it and a directory (tar) and compares bytes, checks the plots hold one point per
// snapshot, that requests without the token get 401 and traversal is refused, restores with --allow-restore,
// and opens the report with the network cut off. Screenshots (desktop 1280x800, phone 390x844) are written
// under the test's temporary directory, whose path is printed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CLI, cliEnv, runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';

const CHROMIUM = '/usr/bin/chromium';
const PW = 'ui e2e repository password';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`skipping the UI tests: ${CHROMIUM} is missing (apt-get install chromium)`);

// A 2x2 PNG (red, green, blue, white), enough for the browser to decode and show.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
  'base64',
);

let tmp: string;
let shots: string;
let stateDir: string;
let browser: Browser;
/** The desktop browser context that opened the token URL: later tests use its cookie. */
let desktop: { context: BrowserContext; page: Page };
const servers: { child: ChildProcess; url: string; base: string }[] = [];

function env(): Record<string, string> {
  return { REPO_REPOSITORY: path.join(tmp, 'repo'), REPO_STATE_DIR: stateDir, REPO_CACHE_DIR: path.join(tmp, 'cache') };
}

async function ok(args: string[]): Promise<CliResult> {
  const r = await runCli(args, { cwd: tmp, password: PW, env: env() });
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}

/** Starts `repo ui` and waits for the URL it prints. */
async function startUi(extra: string[] = []): Promise<{ url: string; base: string }> {
  const child = spawn(process.execPath, [CLI, 'ui', ...extra], {
    cwd: tmp,
    env: cliEnv(PW, env()),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /open (https?:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`repo ui exited ${code}: ${err}`)));
  });
  const base = url.replace(/\/\?token=.*$/, '');
  servers.push({ child, url, base });
  return { url, base };
}

/** A raw GET (no URL normalisation), with an optional cookie: status and body. */
function rawGet(base: string, pathAndQuery: string, cookie?: string): Promise<{ status: number; body: Buffer }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: pathAndQuery, headers: cookie ? { cookie } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function newPage(width: number, height: number): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
  return { context, page: await context.newPage() };
}

/** Goes to a page of the UI (a hash route of the loaded page, or a fresh load) and waits until it is drawn. */
async function go(page: Page, url: string, name: string): Promise<void> {
  await page.evaluate(() => document.body?.removeAttribute('data-ready')).catch(() => undefined);
  await page.goto(url);
  await ready(page, name);
}

async function ready(page: Page, name: string): Promise<void> {
  await page.waitForSelector(`body[data-ready="${name}"]`, { timeout: 20_000 });
}

describe.skipIf(!haveChromium)('repo ui and repo report in Chromium', () => {
  let ui: { url: string; base: string };

  beforeAll(async () => {
    tmp = tempDir('repo-ui-');
    shots = path.join(tmp, 'screenshots');
    stateDir = path.join(tmp, 'state');
    fs.mkdirSync(shots);
    const src = path.join(tmp, 'src');
    fs.mkdirSync(path.join(src, 'docs', 'deep'), { recursive: true });
    const rand = prng(17);
    fs.writeFileSync(path.join(src, 'docs', 'notes.txt'), 'first line of the notes\n');
    fs.writeFileSync(path.join(src, 'docs', 'deep', 'data.bin'), randomBuffer(rand, 700_000));
    fs.writeFileSync(path.join(src, 'docs', 'picture.png'), PNG);
    fs.writeFileSync(path.join(src, 'docs', '<b>tricky & "name".html'), '<script>window.pwned = 1</script>\n');
    await ok(['init']);
    await ok(['backup', 'src', '--tag', 'first']);
    fs.appendFileSync(path.join(src, 'docs', 'notes.txt'), 'a second line\n');
    await ok(['backup', 'src']);
    fs.writeFileSync(path.join(src, 'docs', 'more.bin'), randomBuffer(rand, 300_000));
    await ok(['backup', 'src', '--tag', 'daily,third']);
    await ok(['check', '--read-data']);
    await ok(['analyze', 'src', '--chunker', '64K/128K/256K']);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    ui = await startUi();
    console.log(`UI test screenshots and files: ${shots}`);
  }, 90_000);

  afterAll(async () => {
    await desktop?.context.close();
    await browser?.close();
    for (const s of servers) s.child.kill('SIGTERM');
  });

  it('answers 401 without the token, in the browser and to plain requests', async () => {
    for (const p of ['/', '/api/timeline', '/api/file?snapshot=latest&path=/src/docs/notes.txt', '/assets/app.js'])
      expect((await rawGet(ui.base, p)).status).toBe(401);
    expect((await rawGet(ui.base, '/?token=wrong')).status).toBe(401);
    expect((await rawGet(ui.base, '/api/timeline', 'repo_ui=wrong')).status).toBe(401);
    const { context, page } = await newPage(1280, 800);
    const res = await page.goto(ui.base + '/');
    expect(res?.status()).toBe(401);
    await context.close();
  });

  it('opens the timeline, walks to a file, previews it and downloads it byte for byte', async () => {
    desktop = await newPage(1280, 800);
    const { context, page } = desktop;
    await page.goto(ui.url);
    await ready(page, 'timeline');
    expect(page.url()).not.toContain('token='); // traded for the cookie
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'repo_ui', httpOnly: true, sameSite: 'Strict' });
    expect(await page.locator('li.snap').count()).toBe(3);
    expect(await page.locator('.tag').allTextContents()).toEqual(expect.arrayContaining(['first', 'daily', 'third']));
    await page.screenshot({ path: path.join(shots, 'timeline-desktop.png'), fullPage: true });

    await page.locator('li.snap a.open').first().click(); // the newest
    await ready(page, 'browse');
    await page.getByRole('link', { name: 'src/', exact: true }).click();
    await ready(page, 'browse');
    await page.getByRole('link', { name: 'docs/', exact: true }).click();
    await ready(page, 'browse');
    await page.screenshot({ path: path.join(shots, 'browse-desktop.png'), fullPage: true });
    // A name with markup is shown as text, never parsed.
    expect(await page.getByText('<b>tricky & "name".html').count()).toBe(1);

    await page.getByRole('link', { name: 'notes.txt', exact: true }).click();
    await ready(page, 'browse');
    expect(await page.locator('pre.text').textContent()).toBe('first line of the notes\na second line\n');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
    const saved = path.join(shots, 'notes.txt');
    await download.saveAs(saved);
    expect(fs.readFileSync(saved)).toEqual(fs.readFileSync(path.join(tmp, 'src', 'docs', 'notes.txt')));

    await page.goBack();
    await ready(page, 'browse');
    await page.getByRole('link', { name: 'deep/', exact: true }).click();
    await ready(page, 'browse');
    await page.getByRole('link', { name: 'data.bin', exact: true }).click();
    await ready(page, 'browse');
    const [big] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
    const savedBig = path.join(shots, 'data.bin');
    await big.saveAs(savedBig);
    expect(fs.readFileSync(savedBig).equals(fs.readFileSync(path.join(tmp, 'src', 'docs', 'deep', 'data.bin')))).toBe(
      true,
    );

    // An image is previewed as an image the browser decoded.
    await go(page, ui.base + '/#/browse?snapshot=latest&path=%2Fsrc%2Fdocs%2Fpicture.png', 'browse');
    await page.waitForFunction(() => (document.querySelector('.preview img') as HTMLImageElement | null)?.complete);
    expect(await page.$eval('.preview img', (i) => (i as HTMLImageElement).naturalWidth)).toBe(2);

    // The backed-up HTML file is served as text in a sandbox: its script never runs in the UI's origin.
    const htmlPath = '/src/docs/<b>tricky & "name".html';
    const res = await page.request.get(`${ui.base}/api/file?snapshot=latest&path=${encodeURIComponent(htmlPath)}`);
    expect(res.headers()['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers()['content-security-policy']).toMatch(/^sandbox/);
  });

  it('downloads a directory as tar and as zip with the same bytes as the source', async () => {
    const { page } = desktop;
    await go(page, ui.base + '/#/browse?snapshot=latest&path=%2Fsrc%2Fdocs', 'browse');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download as .tar' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('docs.tar');
    const tarFile = path.join(shots, 'docs.tar');
    await download.saveAs(tarFile);
    const out = path.join(tmp, 'untarred');
    fs.mkdirSync(out);
    execFileSync('tar', ['-xf', tarFile, '-C', out]);
    execFileSync('diff', ['-r', path.join(tmp, 'src', 'docs'), path.join(out, 'docs')]);

    const [zipped] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download as .zip' }).click(),
    ]);
    expect(zipped.suggestedFilename()).toBe('docs.zip');
    const zipFile = path.join(shots, 'docs.zip');
    await zipped.saveAs(zipFile);
    const unzipped = path.join(tmp, 'unzipped');
    execFileSync('unzip', ['-q', zipFile, '-d', unzipped]);
    execFileSync('diff', ['-r', path.join(tmp, 'src', 'docs'), path.join(unzipped, 'docs')]);
  });

  it('draws every plot, with one point per snapshot, at desktop and phone sizes', async () => {
    for (const [name, w, h] of [
      ['desktop', 1280, 800],
      ['phone', 390, 844],
    ] as const) {
      const { context, page } = name === 'desktop' ? desktop : await newPage(w, h);
      if (name === 'phone') {
        await go(page, ui.url, 'timeline');
        await page.screenshot({ path: path.join(shots, `timeline-${name}.png`) });
      }
      await page.getByRole('link', { name: 'Plots' }).click();
      await ready(page, 'plots');
      const points = await page.evaluate(() => {
        const p = (window as unknown as { __repoPlots: Record<string, { data: unknown[][] }> }).__repoPlots;
        return Object.fromEntries(Object.entries(p).map(([k, u]) => [k, u.data.map((s) => s.length)]));
      });
      expect(points.growth).toEqual([3, 3, 3]);
      expect(points.ratios).toEqual([3, 3, 3]);
      expect(points.checks).toEqual([1, 1]); // the one check --read-data, with its read rate
      expect(points.analyze).toEqual([1, 1]); // the one stored analyze run, one chunker setting
      expect(points['blob-sizes'][0]).toBeGreaterThan(0);
      expect(points['pack-sizes'][0]).toBeGreaterThan(0);
      // No plot is wider than the screen (a phone never scrolls sideways).
      const widest = await page.$$eval('canvas', (cs) => Math.max(...cs.map((c) => c.getBoundingClientRect().right)));
      expect(widest).toBeLessThanOrEqual(w);
      await page.screenshot({ path: path.join(shots, `plots-${name}.png`), fullPage: true });
      if (name === 'phone') await context.close();
    }
  });

  it('shows the diff of two snapshots', async () => {
    const { page } = desktop;
    await go(page, ui.base + '/#/', 'timeline');
    await page.getByRole('link', { name: 'diff with previous' }).first().click();
    await ready(page, 'diff');
    const changes = await page.locator('ul.changes li').allTextContents();
    expect(changes).toEqual(['+/src/docs/more.bin']);
  });

  it('refuses paths outside a snapshot and restore without --allow-restore', async () => {
    const { context, page } = desktop;
    const [c] = await context.cookies();
    const cookie = `${c.name}=${c.value}`;
    for (const p of ['/src/../..', '../../etc/passwd', '/src/docs/..', '/src/docs/../../../etc/passwd'])
      for (const api of ['ls', 'file', 'archive'])
        expect(
          (await rawGet(ui.base, `/api/${api}?snapshot=latest&path=${encodeURIComponent(p)}`, cookie)).status,
        ).toBe(400);
    for (const p of [
      '/assets/../package.json',
      '/assets/%2e%2e/package.json',
      '/assets/..%2fpackage.json',
      '/../etc/passwd',
    ])
      expect((await rawGet(ui.base, p, cookie)).status).toBe(404);
    expect((await rawGet(ui.base, '/api/file?snapshot=latest&path=/etc/passwd', cookie)).status).toBe(404);
    const r = await page.request.post(`${ui.base}/api/restore`, {
      headers: { 'content-type': 'application/json', 'x-repo-ui': '1' },
      data: { snapshot: 'latest', path: '/src', target: path.join(tmp, 'nope') },
    });
    expect(r.status()).toBe(403);
    expect(fs.existsSync(path.join(tmp, 'nope'))).toBe(false);
  });

  it('restores a path into a new directory with --allow-restore, and refuses to listen beyond loopback without TLS', async () => {
    const second = await startUi(['--allow-restore']);
    const { context, page } = await newPage(390, 844);
    await page.goto(second.url);
    await ready(page, 'timeline');
    await go(page, second.base + '/#/browse?snapshot=latest&path=%2Fsrc%2Fdocs', 'browse');
    const target = path.join(tmp, 'restored');
    await page.getByRole('textbox', { name: 'restore target directory' }).fill(target);
    await page.getByRole('button', { name: 'Restore here' }).click();
    await page.waitForSelector('form.restore p:has-text("restored")');
    execFileSync('diff', ['-r', path.join(tmp, 'src', 'docs'), target]);
    await context.close();

    const wide = await runCli(['ui', '--listen', '0.0.0.0:0'], { cwd: tmp, password: PW, env: env() });
    expect(wide.code).toBe(1);
    expect(wide.stderr.trim()).toMatch(
      /^repo: refusing to listen on 0\.0\.0\.0 beyond loopback without TLS and a password/,
    );
  });

  it('writes a self-contained report whose plots render in Chromium with the network cut off', async () => {
    const file = path.join(shots, 'report.html');
    await ok(['report', '--html', file, '--since', '30d']);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, offline: true });
    const page = await context.newPage();
    const requests: string[] = [];
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith('file:')) return route.continue();
      requests.push(u);
      return route.abort();
    });
    await page.goto('file://' + file);
    await page.waitForSelector('body[data-plots-ready]');
    expect(requests).toEqual([]);
    const drawn = await page.$$eval('canvas', (cs) =>
      cs.map((c) => {
        const ctx = (c as HTMLCanvasElement).getContext('2d')!;
        const px = ctx.getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) inked++;
        return inked;
      }),
    );
    expect(drawn.length).toBeGreaterThanOrEqual(6);
    for (const n of drawn) expect(n).toBeGreaterThan(100);
    const points = await page.evaluate(
      () =>
        (window as unknown as { __repoPlots: Record<string, { data: unknown[][] }> }).__repoPlots.growth.data[0].length,
    );
    expect(points).toBe(3);
    expect(await page.locator('[data-health]').count()).toBe(1);
    await page.screenshot({ path: path.join(shots, 'report-desktop.png'), fullPage: true });
    await context.close();
  });

  it('shows a snapshot made while it runs, and browses its new file', async () => {
    const { page } = desktop;
    fs.writeFileSync(path.join(tmp, 'src', 'docs', 'late.txt'), 'written while the UI runs\n');
    await ok(['backup', 'src', '--tag', 'late']);
    await go(page, ui.base + '/#/', 'timeline');
    expect(await page.locator('li.snap').count()).toBe(4);
    await go(page, ui.base + '/#/browse?snapshot=latest&path=%2Fsrc%2Fdocs%2Flate.txt', 'browse');
    expect(await page.locator('pre.text').textContent()).toBe('written while the UI runs\n');
  });
});
