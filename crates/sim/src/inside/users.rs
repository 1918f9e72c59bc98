//! Users inside a guest: `runuser`, `useradd`, `getent`.

use super::*;

/// `runuser -u <user> -- argv…`: argv runs as that user (who must exist).
pub(super) fn runuser(g: &mut Guest, id: u32, args: &[&str], stdin: Option<&[u8]>, p: &Proc) -> Output {
    let (user, rest) = match args {
        ["-u", user, "--", rest @ ..] | ["-u", user, rest @ ..] => (*user, rest),
        _ => {
            return out(
                127,
                "",
                format!("sim: runuser {} not simulated in guest (only -u <user> -- argv)", args.join(" ")),
            )
        }
    };
    if !g.os.users.contains_key(user) {
        return out(
            1,
            "",
            format!("runuser: user {user} does not exist or the user entry does not contain all the required fields"),
        );
    }
    if rest.is_empty() {
        return out(127, "", "sim: interactive shell not simulated in guest");
    }
    let cmd: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
    let mut inner = p.clone();
    inner.user = Some(user.to_string());
    run_as(g, id, &cmd, stdin, &inner)
}

/// `useradd [--system|-r] [--user-group|-U] [--home-dir|-d h] [--shell|-s sh] [--create-home|-m] LOGIN`.
/// System users get uids counting down from 999, as Debian's useradd allocates them.
pub(super) fn useradd(g: &mut Guest, args: &[&str]) -> Output {
    let (mut system, mut home, mut shell, mut login) = (false, None, None, None);
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "--system" | "-r" => system = true,
            "--home-dir" | "-d" => {
                i += 1;
                home = args.get(i).map(|s| s.to_string());
            }
            "--shell" | "-s" => {
                i += 1;
                shell = args.get(i).map(|s| s.to_string());
            }
            "--user-group" | "-U" | "--create-home" | "-m" | "--no-create-home" | "-M" => {}
            x if x.starts_with('-') => {
                return out(
                    2,
                    "",
                    format!("useradd: unrecognized option '{x}'\nsim: useradd option not simulated in guest"),
                )
            }
            x => login = Some(x.to_string()),
        }
        i += 1;
    }
    let Some(user) = login else {
        return out(2, "", "Usage: useradd [options] LOGIN");
    };
    if g.os.users.contains_key(&user) {
        return out(9, "", format!("useradd: user '{user}' already exists"));
    }
    if system {
        let uid = (100..1000u32).rev().find(|n| !g.os.users.values().any(|u| u == n)).unwrap_or(999);
        g.os.users.insert(user.clone(), uid);
        g.os.groups.insert(user.clone());
    } else {
        add_user(&mut g.os, &user);
    }
    if home.is_some() || shell.is_some() {
        g.os.accounts.insert(
            user.clone(),
            Account {
                home: home.unwrap_or_else(|| format!("/home/{user}")),
                shell: shell.unwrap_or_else(|| "/bin/sh".into()),
            },
        );
    }
    done("")
}

pub(super) fn getent(g: &Guest, db: &str, key: &str) -> Output {
    match db {
        "passwd" => match g.os.users.get(key) {
            Some(uid) => {
                let (home, shell) = match g.os.accounts.get(key) {
                    Some(a) => (a.home.clone(), a.shell.clone()),
                    None if key == "root" => ("/root".to_string(), "/bin/bash".to_string()),
                    None => (format!("/home/{key}"), "/bin/bash".to_string()),
                };
                let gid = if g.os.groups.contains(key) { *uid } else { 100 };
                done(format!("{key}:x:{uid}:{gid}:{key}:{home}:{shell}\n"))
            }
            None => out(2, "", ""),
        },
        "group" => {
            if g.os.groups.contains(key) {
                done(format!("{key}:x:{}:\n", g.os.users.get(key).copied().unwrap_or(999)))
            } else {
                out(2, "", "")
            }
        }
        other => out(127, "", format!("sim: getent {other} not simulated in guest")),
    }
}
