#!/usr/bin/python3
"""The phone's window in a real headless Chromium, against the real system (`holdfast demo`):
log in as ACD agent 7001 and make busy; the supervisor's wallboard shows it; make a call from the
dial box, see the call window; the collaboration server killed: the banner, the transfer button
gone while hold stays and works, the agent panel greyed with its logout refused, adding a contact
refused with a message; the server back: the banner gone and transfer back; Escape ends the call;
the agent logs out. The desktop console: on duty, a call to the attendant answered from its queue,
the lamps showing the console busy; still on duty offline; off duty after. Screenshots are kept.

  /usr/bin/python3 Tests/ui/phone_ui_test.py --holdfast .build/debug/holdfast --artifacts DIR

Needs Debian's chromium, chromium-driver and python3-selenium (which belongs to /usr/bin/python3).
"""
import argparse, os, subprocess, sys, tempfile, time

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from selenium.webdriver.chrome.service import Service


def b_visible_main(browser):
    return browser.find_element(By.TAG_NAME, "main").is_displayed()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--holdfast", required=True)
    parser.add_argument("--artifacts", required=True)
    args = parser.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    data = tempfile.mkdtemp(prefix="holdfast-ui-")
    demo = subprocess.Popen([args.holdfast, "demo", "--data-dir", data], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    transcript = []
    collab_url = sip_address = None
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            line = demo.stdout.readline()
            if not line:
                raise SystemExit("the demo ended early:\n" + "".join(transcript))
            transcript.append(line)
            if "collab server" in line and "http://" in line:
                collab_url = line.split("http://", 1)[1].split()[0]
            if "call server" in line and "SIP udp/tcp" in line:
                sip_address = line.split("SIP udp/tcp ", 1)[1].split(",")[0]
            if "The system keeps running" in line:
                break
        else:
            raise SystemExit("the demo did not get going:\n" + "".join(transcript))
        url = open(os.path.join(data, "phone-2001", "ui-url")).read().strip()
        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1024,768", "--disable-dev-shm-usage"):
            options.add_argument(flag)
        options.binary_location = "/usr/bin/chromium"
        browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        wait = WebDriverWait(browser, 15)
        shot = lambda name: browser.save_screenshot(os.path.join(args.artifacts, name + ".png"))
        visible = lambda element_id: browser.find_element(By.ID, element_id).is_displayed()
        # The window re-renders on every state change: read and click in ways a re-render cannot break.
        actions = lambda: browser.execute_script(
            "return [...document.querySelectorAll('#calls .call button[data-action]')].map(b => b.dataset.action)")

        def click(selector):
            def attempt(b):
                try:
                    b.find_element(By.CSS_SELECTOR, selector).click()
                    return True
                except (StaleElementReferenceException, NoSuchElementException):
                    return False
            wait.until(attempt)
        try:
            browser.get(url)
            wait.until(lambda b: b.find_element(By.ID, "mode").text == "online")
            assert not visible("banner"), "no banner online"
            shot("1-online")

            # Presence set from the header while online.
            from selenium.webdriver.support.ui import Select
            Select(browser.find_element(By.ID, "presence-set")).select_by_value("away")
            wait.until(lambda b: b.execute_script("return document.getElementById('dial-error').textContent") == "")

            # The agent panel: log in as 7001, make busy with a reason, available again.
            agent_status = lambda: browser.execute_script("return document.getElementById('agent-status').textContent")
            assert visible("agent") and visible("agent-login"), "the agent panel offers a login online"
            browser.find_element(By.ID, "agent-id").send_keys("7001", Keys.ENTER)
            wait.until(lambda b: agent_status() == "Available")
            assert "Sales 5000" in browser.find_element(By.ID, "agent-paths").text, browser.find_element(By.ID, "agent-paths").text
            Select(browser.find_element(By.ID, "agent-reasons")).select_by_index(0)
            click("#agent-busy")
            wait.until(lambda b: agent_status() == "Make busy")
            assert browser.find_element(By.ID, "agent-reason").text.startswith("("), "the reason is shown"
            shot("agent-1-make-busy")
            click("#agent-available")
            wait.until(lambda b: agent_status() == "Available")
            shot("agent-2-online")

            # The supervisor's wallboard (2004) shows agent 7001 available and the paths' figures.
            board = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            try:
                board.get("http://" + collab_url + "/wallboard")
                WebDriverWait(board, 15).until(lambda b: b.find_element(By.ID, "login").is_displayed())
                board.find_element(By.ID, "user").send_keys("2004")
                board.find_element(By.ID, "password").send_keys("pw2004", Keys.ENTER)
                WebDriverWait(board, 15).until(lambda b: b.execute_script(
                    "const row = document.querySelector('tr[data-agent=\"7001\"] .state'); return row && row.textContent") == "Available")
                assert board.find_elements(By.CSS_SELECTOR, ".path[data-path='5000']"), "path 5000 on the board"
                board.save_screenshot(os.path.join(args.artifacts, "wallboard.png"))
            finally:
                board.quit()

            # The desktop console: on duty, a call to the attendant (0) waits in its queue and is
            # answered from there; the lamps show 2001 busy.
            click("#console-toggle")
            wait.until(lambda b: visible("console-panel"))
            attendant = subprocess.Popen([args.holdfast, "sip", "call", f"sip:0@{sip_address}", "--user", "2002", "--password", "pw2002",
                                          "--hangup-after", "6"], stdout=subprocess.DEVNULL)
            wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#console-queue li"))
            assert "2002" in browser.find_element(By.CSS_SELECTOR, "#console-queue li").text, browser.find_element(By.ID, "console-queue").text
            shot("console-1-queue")
            click("#console-queue button[data-action=console-answer]")
            wait.until(lambda b: b.execute_script(
                "return [...document.querySelectorAll('#calls .call .state')].some(e => e.textContent.startsWith('connected'))"))
            wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#console-lamps li[data-number='2001'][data-state='busy']"))
            shot("console-2-answered")
            attendant.wait(30)
            wait.until(lambda b: not b.find_elements(By.CSS_SELECTOR, "#calls .call"))

            # A message left for 2001 (*99 2001, 1000 Hz): the header says so, the Voicemail tab lists it.
            subprocess.run([args.holdfast, "sip", "call", f"sip:*992001@{sip_address}", "--user", "2002", "--password", "pw2002",
                            "--tone", "1000", "--hangup-after", "16"], check=True, timeout=60, stdout=subprocess.DEVNULL)
            wait.until(lambda b: visible("voicemail-waiting") and "1 new message" in b.find_element(By.ID, "voicemail-waiting").text)
            click("#voicemail-waiting")
            wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#voicemail-list li")) == 1)
            item = browser.find_element(By.CSS_SELECTOR, "#voicemail-list li").text
            assert "Brook Taylor" in item and "New" in item, item
            shot("voicemail-1-online")
            click("#voicemail-list li button")  # Play: fetched through the collaboration server, marked heard
            wait.until(lambda b: not visible("voicemail-waiting"))
            wait.until(lambda b: "New" not in b.find_element(By.CSS_SELECTOR, "#voicemail-list li").text)
            click("#tab-contacts")

            number = browser.find_element(By.ID, "number")
            number.send_keys("2002", Keys.ENTER)  # Enter calls
            wait.until(lambda b: b.execute_script(
                "return [...document.querySelectorAll('#calls .call .state')].some(e => e.textContent.startsWith('connected'))"))
            wait.until(lambda b: "transfer" in actions() and "hold" in actions())
            shot("2-call-window")

            demo.stdin.write("s\n")  # the collaboration server is killed
            demo.stdin.flush()
            wait.until(lambda b: visible("banner"))
            banner = browser.find_element(By.ID, "banner-text").text
            assert banner == "Connection Lost - Limited Functionality", banner
            assert visible("try-now") and visible("logout"), "Try Now and Log out offered"
            wait.until(lambda b: "transfer" not in actions())
            assert "hold" in actions(), f"hold stays offline: {actions()}"
            assert visible("console-panel") and not browser.find_element(By.ID, "console-toggle").is_enabled(), "the console stays on duty offline"
            shot("3-limited-functionality")
            click("#calls button[data-action=hold]")
            wait.until(lambda b: "retrieve" in actions())
            click("#calls button[data-action=retrieve]")
            wait.until(lambda b: "hold" in actions())
            browser.find_element(By.ID, "contact-name").send_keys("Plumber")
            browser.find_element(By.ID, "contact-number").send_keys("020 7946 0999", Keys.ENTER)
            wait.until(lambda b: "Not available now" in b.find_element(By.ID, "contacts-error").text)
            assert browser.find_element(By.ID, "sending-readonly").is_displayed(), "Sending calls to is read-only offline"
            assert not browser.find_element(By.ID, "presence-set").is_enabled(), "presence cannot be set offline"
            shot("4-offline-actions")
            # The agent stays logged in, greyed, and cannot log out while offline.
            wait.until(lambda b: "offline" in b.find_element(By.ID, "agent").get_attribute("class"))
            assert not browser.find_element(By.ID, "agent-logout").is_enabled(), "agent logout refused offline"
            assert visible("agent-stale") and "not updated" in browser.find_element(By.ID, "agent-stale").text
            browser.execute_script("document.getElementById('agent').scrollIntoView()")
            shot("agent-3-offline")
            # Offline the mailbox is still a call away; its list needs the server.
            click("#tab-voicemail")
            wait.until(lambda b: visible("voicemail-offline"))
            assert browser.find_element(By.ID, "voicemail-call").is_enabled(), "Call my voicemail offered offline"
            assert "1 old" in browser.find_element(By.ID, "voicemail-summary").text, browser.find_element(By.ID, "voicemail-summary").text
            browser.execute_script("document.getElementById('voicemail').scrollIntoView()")
            shot("voicemail-2-offline")
            click("#tab-contacts")

            demo.stdin.write("r\n")  # and comes back
            demo.stdin.flush()
            wait.until(lambda b: not visible("banner"))
            wait.until(lambda b: "transfer" in actions())
            shot("5-back-online")
            wait.until(lambda b: b.find_element(By.ID, "console-toggle").is_enabled())
            click("#console-toggle")  # off duty
            wait.until(lambda b: not visible("console-panel"))

            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)  # Escape ends the call
            wait.until(lambda b: not b.find_elements(By.CSS_SELECTOR, "#calls .call"))
            shot("6-call-ended")
            wait.until(lambda b: "offline" not in b.find_element(By.ID, "agent").get_attribute("class"))
            click("#agent-logout")
            wait.until(lambda b: visible("agent-login"))

            browser.find_element(By.ID, "logout-header").click()
            wait.until(lambda b: visible("login"))
            assert not b_visible_main(browser), "the phone's screens are hidden until the user logs in again"
            shot("7-logged-out")
            browser.find_element(By.ID, "login-password").send_keys("pw2001", Keys.ENTER)
            wait.until(lambda b: not visible("login") and b.find_element(By.ID, "mode").text == "online")
            wait.until(lambda b: b.find_element(By.ID, "registration").text.startswith("registered"))
            shot("8-logged-in-again")
            print("ui: every step passed; screenshots in", args.artifacts)
        except Exception:
            shot("failure")
            with open(os.path.join(args.artifacts, "failure.html"), "w") as f:
                f.write(browser.page_source)
            raise
        finally:
            browser.quit()
    finally:
        try:
            demo.stdin.write("q\n")
            demo.stdin.flush()
            demo.wait(timeout=20)
        except Exception:
            demo.kill()


if __name__ == "__main__":
    main()
