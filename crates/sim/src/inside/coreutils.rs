//! File tools inside a guest: `test`, `chown`, `install`, `stat`.

use super::*;

pub(super) fn test(g: &Guest, args: &[&str], user: &str) -> Output {
    let args: Vec<&str> = args.iter().copied().filter(|a| *a != "]").collect();
    let (op, path) = match args.as_slice() {
        [op, path] => (*op, *path),
        _ => return out(127, "", format!("sim: test {} not simulated in guest", args.join(" "))),
    };
    let f = g.files.get(path);
    let yes = match op {
        "-e" => f.is_some() || is_dir(g, path),
        "-f" => f.is_some(),
        "-r" if user == "root" => f.is_some() || is_dir(g, path),
        "-d" => f.is_none() && is_dir(g, path),
        "-x" => f.is_some_and(|f| f.mode & 0o111 != 0) || (f.is_none() && is_dir(g, path)),
        "-s" => f.is_some_and(|f| !f.content.is_empty()),
        "-w" => may_write(g, path, user) && meta(g, path).is_some(),
        "-r" => may_read(g, path, user),
        other => return out(127, "", format!("sim: test {other} not simulated in guest")),
    };
    out(if yes { 0 } else { 1 }, "", "")
}

pub(super) fn chown(g: &mut Guest, spec: &str, path: &str) -> Output {
    let (user, group) = match spec.split_once(':') {
        Some((u, gr)) => (u, if gr.is_empty() { u } else { gr }),
        None => (spec, ""),
    };
    if !g.os.users.contains_key(user) && !g.os.packages.is_empty() {
        return out(1, "", format!("chown: invalid user: '{spec}'"));
    }
    if !group.is_empty() && !g.os.groups.contains(group) && !g.os.packages.is_empty() {
        return out(1, "", format!("chown: invalid group: '{spec}'"));
    }
    if !g.files.contains_key(path) && is_dir(g, path) {
        let key = path.trim_end_matches('/').to_string();
        let m = g.os.dir_meta.entry(key).or_insert_with(|| DirMeta {
            owner: "root".into(),
            group: "root".into(),
            mode: 0o755,
        });
        m.owner = user.to_string();
        if !group.is_empty() {
            m.group = group.to_string();
        }
        return done("");
    }
    match g.files.get_mut(path) {
        Some(f) => {
            f.owner = user.to_string();
            if !group.is_empty() {
                f.group = group.to_string();
            }
            done("")
        }
        None => out(1, "", format!("chown: cannot access '{path}': No such file or directory")),
    }
}

/// `install [-d] [-m mode] [-o user] [-g group] src… dst`. `/dev/null` as the source makes an
/// empty file (how secrets files are created with their mode before anything is written).
pub(super) fn install(g: &mut Guest, args: &[&str]) -> Output {
    let mut mode = None;
    let (mut owner, mut group) = (None, None);
    let mut dirs = false;
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "-m" | "--mode" => {
                i += 1;
                let v = args.get(i).copied().unwrap_or("");
                match u32::from_str_radix(v, 8) {
                    Ok(m) => mode = Some(m),
                    Err(_) => return out(1, "", format!("install: invalid mode '{v}'")),
                }
            }
            "-o" | "--owner" => {
                i += 1;
                owner = args.get(i).copied();
            }
            "-g" | "--group" => {
                i += 1;
                group = args.get(i).copied();
            }
            "-d" | "--directory" => dirs = true,
            x if x.starts_with('-') => {}
            x => pos.push(x),
        }
        i += 1;
    }
    if let Some(u) = owner.filter(|u| !g.os.users.contains_key(*u)) {
        return out(1, "", format!("install: invalid user '{u}'"));
    }
    if let Some(gr) = group.filter(|gr| !g.os.groups.contains(*gr)) {
        return out(1, "", format!("install: invalid group '{gr}'"));
    }
    let owner = owner.unwrap_or("root").to_string();
    let group = group.unwrap_or("root").to_string();
    if dirs {
        for p in pos {
            let p = p.trim_end_matches('/');
            let mut cur = String::new();
            for part in p.split('/').filter(|s| !s.is_empty()) {
                cur.push('/');
                cur.push_str(part);
                g.os.dirs.insert(cur.clone());
            }
            g.os.dir_meta.insert(
                p.to_string(),
                DirMeta { owner: owner.clone(), group: group.clone(), mode: mode.unwrap_or(0o755) },
            );
        }
        return done("");
    }
    let (Some(src), Some(dst)) = (pos.first(), pos.get(1)) else {
        return out(1, "", "install: missing destination file operand");
    };
    let content = if *src == "/dev/null" {
        Vec::new()
    } else {
        match g.files.get(*src) {
            Some(f) => f.content.clone(),
            None => return out(1, "", format!("install: cannot stat '{src}': No such file or directory")),
        }
    };
    let mut data = file(content, mode.unwrap_or(0o755));
    data.owner = owner;
    data.group = group;
    let dst = if is_dir(g, dst) && !g.files.contains_key(*dst) {
        format!("{}/{}", dst.trim_end_matches('/'), src.rsplit('/').next().unwrap_or(src))
    } else {
        dst.to_string()
    };
    g.files.insert(dst, data);
    done("")
}

pub(super) fn stat(g: &Guest, args: &[&str]) -> Output {
    let (fmt, path) = match args {
        ["-c", fmt, path] => (*fmt, *path),
        [f, path] if f.starts_with("--format=") || f.starts_with("-c") => {
            (f.trim_start_matches("--format=").trim_start_matches("-c"), *path)
        }
        _ => return out(127, "", format!("sim: stat {} not simulated in guest", args.join(" "))),
    };
    let Some(f) = g.files.get(path) else {
        return out(1, "", format!("stat: cannot statx '{path}': No such file or directory"));
    };
    let text = fmt
        .replace("%a", &format!("{:o}", f.mode))
        .replace("%U", &f.owner)
        .replace("%G", &f.group)
        .replace("%s", &f.content.len().to_string())
        .replace("%n", path);
    done(format!("{text}\n"))
}
